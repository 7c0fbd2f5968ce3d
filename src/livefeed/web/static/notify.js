// The Live Feed window's Alerts panel: the switches (alerts.js decides and shows). Permission is
// asked on the rep's click, never on load.
"use strict";
(function () {
  const alerts = window.livefeedAlerts, settings = alerts.settings, save = alerts.save;
  const toggle = document.getElementById("notify-toggle");
  const panel = document.getElementById("notify-panel");
  const errorBox = panel.querySelector(".notify-error");
  const untilBox = panel.querySelector(".dnd-until");

  function show() {
    panel.browser.checked = settings.browser && "Notification" in window && Notification.permission === "granted";
    panel.sound.checked = settings.sound;
    for (const kind of Object.keys(settings.kinds)) panel["kind-" + kind].checked = settings.kinds[kind];
    const dnd = settings.dndUntil > Date.now();
    untilBox.hidden = !dnd;
    untilBox.textContent = dnd ? "Quiet until " + new Date(settings.dndUntil).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: document.body.dataset.timezone }) : "";
    if (!dnd) panel.dnd.value = "0";
    toggle.textContent = dnd ? "Quiet (alerts off)" : "Alerts";
  }

  toggle.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute("aria-expanded", String(!panel.hidden));
  });

  // Permission is asked here, on the rep's click — never on load.
  panel.browser.addEventListener("change", async () => {
    errorBox.hidden = true;
    if (!panel.browser.checked) { settings.browser = false; save(); return; }
    if (!("Notification" in window)) {
      errorBox.textContent = "This browser has no notifications.";
      errorBox.hidden = false;
      panel.browser.checked = false;
      return;
    }
    const answer = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    settings.browser = answer === "granted";
    if (!settings.browser) {
      errorBox.textContent = "Notifications are blocked for this site: allow them in the browser's site settings.";
      errorBox.hidden = false;
    }
    save();
    show();
  });

  panel.sound.addEventListener("change", () => {
    settings.sound = panel.sound.checked;
    if (settings.sound) alerts.beep(0.001);   // a silent first sound: browsers allow audio after this click
    save();
  });
  for (const kind of Object.keys(settings.kinds)) {
    panel["kind-" + kind].addEventListener("change", () => { settings.kinds[kind] = panel["kind-" + kind].checked; save(); });
  }
  panel.dnd.addEventListener("change", () => {
    const minutes = Number(panel.dnd.value);
    settings.dndUntil = minutes ? Date.now() + minutes * 60000 : 0;
    save();
    show();
  });

  document.addEventListener("livefeed:row", (e) => alerts.consider(e.detail));
  document.addEventListener("livefeed:alert-settings", show);   // the rep's shared settings arrived

  show();
})();
