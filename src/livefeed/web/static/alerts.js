// Alerts shared by the Live Feed window and the web app's pages: which rows alert, how (browser
// notification, sound), and the per-person limit. Settings and the last alert per person live in
// this origin's localStorage, so every open LiveFeed tab follows the same switches and one person
// alerts once per 10 minutes across all of them.
"use strict";
(function () {
  const KEY = "livefeed.alerts", LAST = "livefeed.alerts.last";
  const PER_PERSON_MS = 10 * 60 * 1000;
  const KINDS = { open: "open", click: "click", reply: "reply", moment: "marketing", visit: "marketing", form: "marketing",
                  marketing_open: "marketing", marketing_click: "marketing" };
  const VERBS = { open: "opened", click: "clicked a link in", reply: "replied to" };
  let audio = null;

  function read(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (err) { return fallback; }
  }
  const settings = Object.assign({ browser: false, sound: false, kinds: { open: true, click: true, reply: true, marketing: true },
                                   dndUntil: 0 }, read(KEY, {}));

  // Which kinds alert and quiet time are the rep's, kept by the server (the extension follows the
  // same); notification and sound are this browser's.
  function save() {
    localStorage.setItem(KEY, JSON.stringify(settings));
    if (!signedIn) return;
    fetch("/api/v1/me/alerts", { method: "PUT", credentials: "same-origin", headers: { "content-type": "application/json" },
      body: JSON.stringify({ kinds: settings.kinds, quiet_until: settings.dndUntil > Date.now() ? new Date(settings.dndUntil).toISOString() : null }) })
      .catch((err) => console.warn("alert settings not saved", err));
  }

  const signedIn = !!(document.getElementById("open-live-feed") || document.getElementById("notify-panel"));   // app pages, the window
  if (signedIn) {
    fetch("/api/v1/me/alerts", { credentials: "same-origin" }).then((r) => r.ok ? r.json() : null).then((shared) => {
      if (!shared) return;
      Object.assign(settings.kinds, shared.kinds);
      settings.dndUntil = shared.quiet_until ? Date.parse(shared.quiet_until) : 0;
      localStorage.setItem(KEY, JSON.stringify(settings));
      document.dispatchEvent(new CustomEvent("livefeed:alert-settings"));
    }).catch(() => {});
  }

  function reload() { Object.assign(settings, read(KEY, {})); }   // another tab changed them

  function beep(volume) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = volume;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (err) { console.warn(err); }
  }

  function wanted(ev) {
    const group = KINDS[ev.kind];
    if (!group || !ev.alert || !ev.person || !settings.kinds[group]) return false;   // a notice shows in the window only
    if (group !== "marketing" && ev.class !== "human" && ev.class !== "proxy") return false;   // never machine, scanner, self
    if (settings.dndUntil > Date.now()) return false;
    if (ev.kind === "reply") return true;     // a reply always alerts: the per-person limit is for opens and clicks
    return Date.now() - (read(LAST, {})[ev.person.id] || 0) >= PER_PERSON_MS;
  }

  function text(ev) {
    const who = (ev.person.name || ev.person.email) + (ev.email && ev.email.shared_with > 1 ? " (one of " + ev.email.shared_with + " recipients)" : "");
    if (ev.email) return who + " " + (VERBS[ev.kind] || ev.kind) + " “" + ev.email.subject + "”";
    return who + ": " + (ev.kind === "moment" ? ev.reason + " — " + (ev.message || "") : ev.message || ev.reason);
  }

  function show(ev) {
    if (!wanted(ev)) return false;   // read again under the lock: another tab may have just alerted
    const last = read(LAST, {});
    last[ev.person.id] = Date.now();
    for (const id of Object.keys(last)) if (Date.now() - last[id] > PER_PERSON_MS) delete last[id];
    localStorage.setItem(LAST, JSON.stringify(last));
    if (settings.browser && "Notification" in window && Notification.permission === "granted") {
      const note = new Notification("LiveFeed", { body: text(ev), tag: "livefeed-person-" + ev.person.id });
      note.onclick = () => { window.focus(); note.close(); };
    }
    if (settings.sound) beep(0.2);
    return true;
  }

  // A new row while watching (never a replay): alert if the switches say so. Every open LiveFeed
  // tab gets the row; a Web Lock makes the check-and-mark atomic across them, so one alerts.
  async function consider(ev) {
    reload();
    let shown = false;
    if ((settings.browser || settings.sound) && wanted(ev)) {
      shown = navigator.locks ? await navigator.locks.request("livefeed-alerts", () => show(ev)) : show(ev);
    }
    const root = document.documentElement;   // how many rows this tab has weighed (observable state)
    root.dataset.alertsSeen = String(Number(root.dataset.alertsSeen || 0) + 1);
    return shown;
  }

  window.livefeedAlerts = { settings, save, reload, consider, beep };
})();
