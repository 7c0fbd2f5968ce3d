// Opens the floating Live Feed window of the configured LiveFeed server (the rep's session there
// is the web app's own). Without a server URL, the options page opens instead.
"use strict";
const WINDOW = { type: "popup", width: 380, height: 680 };

async function openLiveFeed() {
  const { server } = await chrome.storage.sync.get("server");
  if (!server) {
    chrome.runtime.openOptionsPage();
    return;
  }
  const url = server.replace(/\/+$/, "") + "/live";
  const { windowId } = await chrome.storage.session.get("windowId");
  if (windowId) {
    try {                                   // one window: bring it back rather than open another
      await chrome.windows.update(windowId, { focused: true });
      return;
    } catch (err) { /* it was closed */ }
  }
  const created = await chrome.windows.create({ url, ...WINDOW });
  await chrome.storage.session.set({ windowId: created.id });
}

chrome.action.onClicked.addListener(openLiveFeed);
chrome.runtime.onMessage.addListener((message, sender, reply) => {
  if (message && message.type === "open-live-feed") {
    openLiveFeed().then(() => reply({ ok: true }), (err) => reply({ ok: false, error: String(err) }));
    return true;
  }
  return false;
});
