"use strict";
// Opens the Live Feed as a small floating window (re-focusing it when it is already open).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("open-live-feed");
  if (!button) return;
  button.addEventListener("click", () => {
    const win = window.open(button.dataset.liveUrl, "livefeed", "popup,width=380,height=680");
    if (win) win.focus();
  });
});
