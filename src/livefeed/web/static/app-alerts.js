// Alerts while the rep works in the web app (not only in the Live Feed window): when alerts are on
// (switched on in the window's Alerts panel; the settings are shared), listen to the rep's stream
// for new rows only (no backlog) and hand each to alerts.js.
"use strict";
(function () {
  const alerts = window.livefeedAlerts;
  if (!alerts || !document.getElementById("open-live-feed")) return;   // signed-in pages only
  if (!(alerts.settings.browser || alerts.settings.sound)) return;
  let live = false;
  const source = new EventSource("/api/v1/feed/stream?backlog=0");
  source.addEventListener("ready", () => { live = true; document.documentElement.dataset.alerts = "live"; });
  source.addEventListener("error", () => { live = false; });          // a reconnect replays: not news
  source.addEventListener("hit", (msg) => { if (live) alerts.consider(JSON.parse(msg.data)); });
})();
