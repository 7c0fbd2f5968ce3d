// Which rows raise a desktop notification from the extension: the same rules as the web app's
// alerts (web/static/alerts.js) with the rep's shared settings (GET /api/v1/me/alerts): only human
// (or mail-proxy) opens and clicks, replies and marketing moments; never machine, scanner or self
// hits; not while quiet; one alert per person per 10 minutes — except replies, which always alert.
"use strict";
(function (root) {
  const PER_PERSON_MS = 10 * 60 * 1000;
  const STALE_MS = 15 * 60 * 1000;   // replayed after a long sleep: in the Live Feed, not a pop-up each
  const GROUPS = { open: "open", click: "click", reply: "reply", moment: "marketing", visit: "marketing", form: "marketing",
                   marketing_open: "marketing", marketing_click: "marketing" };
  const VERBS = { open: "opened", click: "clicked a link in", reply: "replied to" };

  function decide(ev, settings, lastByPerson, now) {
    const no = { alert: false };
    const group = GROUPS[ev.kind];
    if (!group || !ev.alert || !ev.person) return no;
    if (now - Date.parse(ev.at) > STALE_MS) return no;
    if (group !== "marketing" && ev.class !== "human" && ev.class !== "proxy") return no;   // never machine, scanner, self
    if (settings.quiet_until && Date.parse(settings.quiet_until) > now) return no;
    if (settings.kinds && settings.kinds[group] === false) return no;
    if (ev.kind !== "reply" && now - (lastByPerson[ev.person.id] || 0) < PER_PERSON_MS) return no;
    const who = ev.person.name || ev.person.email;
    const shared = ev.email && ev.email.shared_with > 1 ? " (one of " + ev.email.shared_with + " recipients)" : "";
    let message;
    if (ev.email) message = (VERBS[ev.kind] || ev.kind) + " “" + ev.email.subject + "”";
    else message = ev.kind === "moment" ? ev.reason + " — " + (ev.message || "") : ev.message || ev.reason;
    if (ev.kind === "reply" && ev.detail) message += ": " + ev.detail.split("\n")[0].slice(0, 120);
    return { alert: true, title: who + shared, message };
  }

  root.livefeedAlerting = { decide, PER_PERSON_MS };
})(typeof self !== "undefined" ? self : this);
