// Adds a "Live Feed" button to Gmail's page; it asks the extension to open the window.
"use strict";
(function () {
  if (document.getElementById("livefeed-open")) return;
  const button = document.createElement("button");
  button.id = "livefeed-open";
  button.type = "button";
  button.textContent = "Live Feed";
  button.title = "Open the LiveFeed Live Feed window";
  button.addEventListener("click", () => chrome.runtime.sendMessage({ type: "open-live-feed" }));
  document.body.append(button);
})();
