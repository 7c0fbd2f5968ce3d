/* LiveFeed website tracking: page views with a first-party visitor id. <script async src=".../w.js" data-site="KEY"> */
(function (w, d) {
  "use strict";
  var s = d.currentScript, n = w.navigator, L = w.localStorage, K = "lf_v", P = "lf_id";
  if (!s || !s.dataset.site) return;
  var end = s.src.replace(/\/w\.js.*$/, "/w/b?s=") + encodeURIComponent(s.dataset.site);
  function get(k) { try { return L.getItem(k); } catch (e) { return null; } }
  function put(k, v) { try { L.setItem(k, v); } catch (e) {} }
  function rid() {
    var a = new Uint8Array(18);
    (w.crypto || w.msCrypto).getRandomValues(a);
    return btoa(String.fromCharCode.apply(null, a)).replace(/\+/g, "-").replace(/\//g, "_");
  }
  /* the visitor id is the server's (signed for this site): until it has given one, page views go
     by fetch, whose answer carries it; afterwards by sendBeacon */
  var q = new URLSearchParams(w.location.search), id = q.get(P), vid = get(K + "s");
  if (id) {
    put(K + "k", "1");                       /* known from now on: arrived through the rep's email */
    q.delete(P);
    var clean = w.location.pathname + (q.toString() ? "?" + q : "") + w.location.hash;
    try { w.history.replaceState(w.history.state, "", clean); } catch (e) {}
  }
  var priv = n.doNotTrack === "1" || w.doNotTrack === "1" || n.globalPrivacyControl === true;
  if (priv && !id && !get(K + "k") && s.dataset.honourDnt !== "false") return;   /* anonymous, asked not to be tracked */
  function send() {
    var body = JSON.stringify({ v: vid || rid(), u: w.location.href,
                                t: d.title, r: d.referrer, i: id, p: priv });
    id = null;
    var blob = new Blob([body], { type: "text/plain;charset=UTF-8" });
    if (vid && n.sendBeacon && n.sendBeacon(end, blob)) return;
    fetch(end, { method: "POST", body: blob, keepalive: true, mode: "cors", credentials: "omit" })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (a) { if (a && a.v) { vid = a.v; put(K + "s", vid); } })
      .catch(function () {});
  }
  send();
  /* single-page sites: a new history entry is a new page view */
  var push = w.history.pushState;
  w.history.pushState = function () { var r = push.apply(this, arguments); setTimeout(send, 0); return r; };
  w.addEventListener("popstate", function () { setTimeout(send, 0); });
})(window, document);
