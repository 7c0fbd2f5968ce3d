// The server URL: checked by asking the server who it is (GET /api/v1/health), then stored.
"use strict";
const form = document.getElementById("options");
const input = document.getElementById("server");
const result = document.getElementById("result");

function say(text, ok) {
  result.textContent = text;
  result.className = ok ? "ok" : "bad";
}

chrome.storage.sync.get("server").then(({ server }) => { if (server) input.value = server; });

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
    await chrome.storage.sync.set({ server });
    say("Saved: " + server + " answers (LiveFeed " + about.version + ").", true);
  } catch (err) {
    say("Not saved: no LiveFeed server answers at " + server + ".", false);
  }
});
