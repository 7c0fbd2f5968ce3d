// Holds the rep's live stream (GET /api/v1/feed/stream with the extension's token) while Chrome is
// open, so alerts arrive with no LiveFeed tab. Server-Sent Events read with fetch (EventSource
// cannot send a token); resumes after the last event id it saw (after sleep or a lost network),
// the first time with no backlog. Each row goes to the service worker, which decides and alerts.
"use strict";
let server = null, token = null, controller = null, retryMs = 1000;
const LAST = "livefeed.stream.last";

function lastId() { return localStorage.getItem(LAST); }

async function connect() {
  if (!server || !token) return;
  if (controller) controller.abort();
  controller = new AbortController();
  const after = lastId();
  const url = server + "/api/v1/feed/stream?" + (after ? "after=" + encodeURIComponent(after) : "backlog=0");
  try {
    const response = await fetch(url, { headers: { authorization: "Bearer " + token, accept: "text/event-stream" },
                                        credentials: "omit", signal: controller.signal, cache: "no-store" });
    if (response.status === 401) {
      chrome.runtime.sendMessage({ type: "api", method: "GET", path: "/api/v1/me" });   // the worker forgets the token
      return;
    }
    if (!response.ok || !response.body) throw new Error("stream answered " + response.status);
    retryMs = 1000;
    document.documentElement.dataset.stream = "live";
    await read(response.body.getReader());
  } catch (err) {
    if (err && err.name === "AbortError") return;
  }
  document.documentElement.dataset.stream = "reconnecting";
  setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 60000);
}

async function read(reader) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      handle(frame);
    }
  }
}

function handle(frame) {
  let event = "message", data = "", id = null;
  for (const line of frame.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data += (data ? "\n" : "") + value;
    else if (field === "id") id = value;
  }
  if (event !== "hit" || !data) return;
  let ev;
  try { ev = JSON.parse(data); } catch (err) { return; }
  if (id) localStorage.setItem(LAST, id);
  chrome.runtime.sendMessage({ type: "hit", event: ev }).catch(() => {});
}

chrome.runtime.onMessage.addListener((message) => {
  if (message && message.type === "stream-config") {
    const changed = message.server !== server || message.token !== token;
    if (message.server !== server) localStorage.removeItem(LAST);
    server = message.server; token = message.token;
    if (changed) connect();
  }
});
addEventListener("online", () => { retryMs = 1000; connect(); });   // back on the network: at once
chrome.runtime.sendMessage({ type: "stream-ready" }).then((found) => {
  if (found && found.server && found.token && !server) { server = found.server; token = found.token; connect(); }
}).catch(() => {});
