// The server URL (checked by asking the server who it is: GET /api/v1/health), connecting the
// extension to the rep's account (OAuth-style code flow with PKCE: actions/extension.py on the
// server), who is connected, and whether Gmail messages are tracked by default.
"use strict";
const form = document.getElementById("options");
const input = document.getElementById("server");
const result = document.getElementById("result");
const who = document.getElementById("who");
const connectButton = document.getElementById("connect");
const disconnectButton = document.getElementById("disconnect");
const trackDefault = document.getElementById("track-default");

function say(text, ok) {
  result.textContent = text;
  result.className = ok ? "ok" : "bad";
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function showAccount() {
  const { server } = await chrome.storage.sync.get("server");
  const { user } = await chrome.storage.local.get("user");
  who.textContent = user ? "Connected as " + user.email + (user.name ? " (" + user.name + ")" : "") + " on " + server + "." : "Not connected.";
  disconnectButton.hidden = !user;
  connectButton.textContent = user ? "Connect again" : "Connect to LiveFeed";
  connectButton.disabled = !server;
}

chrome.storage.sync.get({ server: "", trackByDefault: true }).then(({ server, trackByDefault }) => {
  if (server) input.value = server;
  trackDefault.checked = trackByDefault;
  showAccount();
});
trackDefault.addEventListener("change", () => chrome.storage.sync.set({ trackByDefault: trackDefault.checked }));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  let url;
  try {
    url = new URL(input.value.trim());
    if (url.protocol !== "https:" && url.hostname !== "localhost" && url.hostname !== "127.0.0.1") throw new Error("https");
  } catch (err) {
    say("Enter the server's https:// address (http only for localhost).", false);
    return;
  }
  const server = url.origin + url.pathname.replace(/\/+$/, "");
  try {
    const response = await fetch(server + "/api/v1/health", { credentials: "omit" });
    const about = await response.json();
    if (!response.ok || about.product !== "LiveFeed") throw new Error("not LiveFeed");
    const before = (await chrome.storage.sync.get("server")).server;
    if (before && before !== server) await chrome.storage.local.remove(["token", "user"]);   // a token is for its server
    await chrome.storage.sync.set({ server });
    say("Saved: " + server + " answers (LiveFeed " + about.version + ").", true);
  } catch (err) {
    say("Not saved: no LiveFeed server answers at " + server + ".", false);
  }
  showAccount();
});

connectButton.addEventListener("click", async () => {
  const { server } = await chrome.storage.sync.get("server");
  if (!server) return;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(48)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(24)));
  await chrome.storage.session.set({ pending: { server, verifier, state } });
  const returnTo = chrome.runtime.getURL("connected.html");
  const query = new URLSearchParams({ return_to: returnTo, code_challenge: challenge, state });
  await chrome.tabs.create({ url: server + "/extension/connect?" + query });
});

disconnectButton.addEventListener("click", async () => {
  await chrome.runtime.sendMessage({ type: "api", method: "DELETE", path: "/api/v1/tokens/current" });
  await chrome.storage.local.remove(["token", "user"]);
  showAccount();
});

chrome.storage.onChanged.addListener(() => showAccount());
