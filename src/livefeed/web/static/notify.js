// Alerts in the Live Feed window: browser notifications and a sound for people engaging.
// Only alerting rows (human or proxy opens, clicks, replies; marketing moments) that arrive while
// watching; never machine, scanner or self hits, never replays; one per person per 10 minutes;
// nothing during "do not disturb". Settings stay in this browser (localStorage).
"use strict";
(function () {
  const KEY = "livefeed.alerts";
  const PER_PERSON_MS = 10 * 60 * 1000;
  const KINDS = { open: "open", click: "click", reply: "reply", moment: "marketing", visit: "marketing", form: "marketing",
                  marketing_open: "marketing", marketing_click: "marketing" };
  const VERBS = { open: "opened", click: "clicked a link in", reply: "replied to" };
  const toggle = document.getElementById("notify-toggle");
  const panel = document.getElementById("notify-panel");
  const errorBox = panel.querySelector(".notify-error");
  const untilBox = panel.querySelector(".dnd-until");
  const lastByPerson = new Map();
  let audio = null;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (err) { return {}; }
  }
  const settings = Object.assign({ browser: false, sound: false, kinds: { open: true, click: true, reply: true, marketing: true },
                                   dndUntil: 0 }, load());

  function save() { localStorage.setItem(KEY, JSON.stringify(settings)); }

  function show() {
    panel.browser.checked = settings.browser && "Notification" in window && Notification.permission === "granted";
    panel.sound.checked = settings.sound;
    for (const kind of Object.keys(settings.kinds)) panel["kind-" + kind].checked = settings.kinds[kind];
    const dnd = settings.dndUntil > Date.now();
    untilBox.hidden = !dnd;
    untilBox.textContent = dnd ? "Quiet until " + new Date(settings.dndUntil).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
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
    if (settings.sound) beep(0.001);   // a silent first sound: browsers allow audio after this click
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
    if (!group || !ev.alert || !settings.kinds[group]) return false;
    if (group !== "marketing" && ev.class !== "human" && ev.class !== "proxy") return false;   // never machine, scanner, self
    if (settings.dndUntil > Date.now()) return false;
    const last = lastByPerson.get(ev.person.id) || 0;
    return Date.now() - last >= PER_PERSON_MS;
  }

  function text(ev) {
    const who = ev.person.name || ev.person.email;
    if (ev.email) return who + " " + (VERBS[ev.kind] || ev.kind) + " “" + ev.email.subject + "”";
    return who + ": " + (ev.kind === "moment" ? ev.reason + " — " + (ev.message || "") : ev.message || ev.reason);
  }

  document.addEventListener("livefeed:row", (e) => {
    const ev = e.detail;
    if (!(settings.browser || settings.sound) || !wanted(ev)) return;
    lastByPerson.set(ev.person.id, Date.now());
    if (settings.browser && "Notification" in window && Notification.permission === "granted") {
      const note = new Notification("LiveFeed", { body: text(ev), tag: "livefeed-person-" + ev.person.id });
      note.onclick = () => { window.focus(); note.close(); };
    }
    if (settings.sound) beep(0.2);
  });

  show();
})();
