// The extension's service worker: the one place that talks to the rep's LiveFeed server (with the
// extension's own token, over CORS), blocks the rep's own pixel loads, raises notifications for the
// rows the offscreen document's stream brings, and opens the Live Feed (side panel or window).
"use strict";
importScripts("alerting.js");

const WINDOW = { type: "popup", width: 380, height: 680 };
const OFFSCREEN = "offscreen.html";

async function config() {
  const { server } = await chrome.storage.sync.get("server");
  const { token, user } = await chrome.storage.local.get(["token", "user"]);
  return { server, token, user };
}

// --- the API -------------------------------------------------------------------------------

async function api(method, path, body) {
  const { server, token } = await config();
  if (!server) return { status: 0, error: "set your LiveFeed server in the extension's options." };
  if (!token) return { status: 401, error: "connect the extension to LiveFeed in its options." };
  try {
    const response = await fetch(server + path, {
      method, credentials: "omit",
      headers: { authorization: "Bearer " + token, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await response.json(); } catch (err) { /* not JSON */ }
    if (response.status === 401) {           // revoked or expired: connect again
      await chrome.storage.local.remove(["token", "user"]);
      await stopStream();
      return { status: 401, body: data, error: "LiveFeed no longer accepts this extension: connect it again in its options." };
    }
    return { status: response.status, body: data };
  } catch (err) {
    return { status: 0, error: "LiveFeed cannot be reached (" + (err && err.message || err) + ")." };
  }
}

function reason(answer) {
  if (answer.error) return answer.error;
  const detail = answer.body && answer.body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) {
    const first = detail[0];
    return (first.loc ? first.loc.filter((p) => p !== "body").join(".") + ": " : "") + first.msg;
  }
  return "LiveFeed answered " + answer.status + ".";
}

// The draft from a Gmail compose window: sent by LiveFeed as the rep when they have a sending
// account there, else one tracked body for Gmail to send.
async function send(draft, gmailSends) {
  const me = await api("GET", "/api/v1/me");
  if (me.status !== 200) return { ok: false, error: reason(me) };
  if (me.body.sends_with && !gmailSends) {
    const sent = await api("POST", "/api/v1/emails", draft);
    if (sent.status === 201 || sent.status === 202) return { ok: true, mode: "sent", queued: sent.status === 202, id: sent.body.id };
    return { ok: false, error: reason(sent) };
  }
  const tracked = await api("POST", "/api/v1/emails/tracked-body", draft);
  if (tracked.status === 201) return { ok: true, mode: "body", html: tracked.body.html, id: tracked.body.id };
  return { ok: false, error: reason(tracked) };
}

// --- the rep's own views never count --------------------------------------------------------
// Their browser's requests for LiveFeed pixels are blocked: straight from the server, and through
// Gmail's image proxy, whose URLs end with the original after a # (…googleusercontent.com/proxy/…#https://server/o/…,
// as EasyList's mail-tracker filters match them: easylist/easylist PR 3577; Chromium's rule matching sees the
// fragment, which tests/test_extension_gmail.py checks).

function escapeRegex(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

async function blockOwnPixels() {
  const { server } = await config();
  const old = await chrome.declarativeNetRequest.getDynamicRules();
  const rules = [];
  if (server) {
    const base = escapeRegex(server.replace(/^https?:\/\//, ""));
    rules.push({ id: 1, priority: 1, action: { type: "block" },
                 condition: { regexFilter: "^https?://" + base + "/o/", resourceTypes: ["image", "other", "xmlhttprequest"] } });
    rules.push({ id: 2, priority: 1, action: { type: "block" },
                 condition: { regexFilter: "^https://[a-z0-9-]+\\.googleusercontent\\.com/.*#https?://" + base + "/o/",
                              resourceTypes: ["image", "other"] } });
  }
  await chrome.declarativeNetRequest.updateDynamicRules({ removeRuleIds: old.map((r) => r.id), addRules: rules });
}

// --- the live stream and notifications ---------------------------------------------------------

async function startStream() {
  const { server, token } = await config();
  if (!server || !token) return;
  if (!(await chrome.offscreen.hasDocument())) {
    await chrome.offscreen.createDocument({ url: OFFSCREEN, reasons: ["WORKERS"],
      justification: "Holds the rep's LiveFeed event stream so alerts arrive with no LiveFeed tab open." });
  }
  chrome.runtime.sendMessage({ type: "stream-config", server, token }).catch(() => {});
}

async function stopStream() {
  if (await chrome.offscreen.hasDocument()) await chrome.offscreen.closeDocument();
}

let alertSettings = null, settingsAt = 0;
async function settings() {
  if (!alertSettings || Date.now() - settingsAt > 60000) {
    const answer = await api("GET", "/api/v1/me/alerts");
    if (answer.status === 200) { alertSettings = answer.body; settingsAt = Date.now(); }
  }
  return alertSettings || { kinds: { open: true, click: true, reply: true, marketing: true }, quiet_until: null };
}

// One at a time: two frames arriving together must not both pass the "alerted already?" check.
let hits = Promise.resolve();
function onHitInOrder(ev) {
  hits = hits.then(() => onHit(ev)).catch((err) => console.warn("alert failed", err));
  return hits;
}

async function onHit(ev) {
  const seen = await chrome.storage.session.get({ alerted: [], lastByPerson: {} });
  if (seen.alerted.includes(ev.id)) return;             // never twice for one event
  const decision = self.livefeedAlerting.decide(ev, await settings(), seen.lastByPerson, Date.now());
  if (!decision.alert) return;
  seen.alerted.push(ev.id);
  if (ev.person) seen.lastByPerson[ev.person.id] = Date.now();
  await chrome.storage.session.set({ alerted: seen.alerted.slice(-500), lastByPerson: seen.lastByPerson });
  self.alertsShown = (self.alertsShown || 0) + 1;     // observable: how many this worker raised
  await chrome.notifications.create("livefeed-" + ev.id, {
    type: "basic", iconUrl: "icon128.png", title: decision.title, message: decision.message, priority: 1,
  });
}

chrome.notifications.onClicked.addListener(async (id) => {
  const eventId = id.replace(/^livefeed-/, "");
  chrome.notifications.clear(id);
  await openLiveFeed("#event-" + eventId);
});

// --- the Live Feed: the side panel beside Gmail, else its own window ---------------------------

async function openLiveFeed(anchor, tabId) {
  const { server } = await config();
  if (!server) { chrome.runtime.openOptionsPage(); return; }
  const url = server + "/live" + (anchor || "");
  if (tabId !== undefined && chrome.sidePanel && !anchor) {
    try {                                   // at once: the rep's click must still count as one
      await chrome.sidePanel.open({ tabId });
      return;
    } catch (err) { /* no panel here: the window */ }
  }
  const { windowId } = await chrome.storage.session.get("windowId");
  if (windowId) {
    try {                                   // one window: bring it back (at the row) rather than open another
      const [tab] = await chrome.tabs.query({ windowId });
      if (tab && anchor) await chrome.tabs.update(tab.id, { url });
      await chrome.windows.update(windowId, { focused: true });
      return;
    } catch (err) { /* it was closed */ }
  }
  const created = await chrome.windows.create({ url, ...WINDOW });
  await chrome.storage.session.set({ windowId: created.id });
}

// The toolbar button opens the side panel itself (Chrome handles the click); where the panel
// cannot be set to, the button falls back to the window.
if (chrome.sidePanel && chrome.sidePanel.setPanelBehavior) {
  chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {
    chrome.action.onClicked.addListener((tab) => openLiveFeed("", tab && tab.id));
  });
} else {
  chrome.action.onClicked.addListener((tab) => openLiveFeed("", tab && tab.id));
}

chrome.runtime.onMessage.addListener((message, sender, reply) => {
  if (!message || sender.id !== chrome.runtime.id) return false;
  const done = (promise) => { promise.then(reply, (err) => reply({ ok: false, error: String(err) })); return true; };
  switch (message.type) {
    case "open-live-feed": return done(openLiveFeed("", sender.tab && sender.tab.id).then(() => ({ ok: true })));
    case "send": return done(send(message.draft, !!message.gmailSends));
    case "api": return done(api(message.method, message.path, message.body));
    case "hit": return done(onHitInOrder(message.event).then(() => ({ ok: true })));
    case "stream-ready": return done(config().then(({ server, token }) => ({ server, token })));
    case "connected": return done(Promise.all([blockOwnPixels(), startStream()]).then(() => ({ ok: true })));
    default: return false;
  }
});

chrome.storage.onChanged.addListener((changes) => {
  if (changes.server) blockOwnPixels();
  if (changes.token && !changes.token.newValue) stopStream();
  else if (changes.server || changes.token) startStream();
});
chrome.runtime.onStartup.addListener(() => { blockOwnPixels(); startStream(); });
chrome.runtime.onInstalled.addListener(() => { blockOwnPixels(); startStream(); });
