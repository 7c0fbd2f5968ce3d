// Chrome's side panel beside Gmail: the rep's Live Feed itself (the server's /live page, where
// signing in returns). Without a server, the way to set one.
"use strict";
chrome.storage.sync.get("server").then(({ server }) => {
  if (server) {
    location.replace(server + "/live" + location.hash);
    return;
  }
  const status = document.getElementById("panel-status");
  status.textContent = "Set your LiveFeed server first: ";
  const link = document.createElement("a");
  link.href = "#";
  link.textContent = "open the extension's options";
  link.addEventListener("click", (event) => { event.preventDefault(); chrome.runtime.openOptionsPage(); });
  status.append(link);
});
