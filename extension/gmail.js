// Adds a "Live Feed" button to Gmail's page: the Live Feed opens in Chrome's side panel beside the
// inbox (its own window where the panel cannot open).
"use strict";
(function () {
  if (document.getElementById("livefeed-open")) return;
  const button = document.createElement("button");
  button.id = "livefeed-open";
  button.type = "button";
  button.textContent = "Live Feed";
  button.title = "Open your Live Feed beside Gmail";
  button.addEventListener("click", () => chrome.runtime.sendMessage({ type: "open-live-feed" }));
  document.body.append(button);
})();
