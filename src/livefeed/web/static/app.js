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

// Compose: address suggestions from the people search, and a preview of the first recipient's copy
// (fields filled by the server, shown in a sandboxed frame: no scripts, no same-origin access).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.compose");
  if (!form) return;
  const list = document.getElementById("people-suggestions");
  let timer = null;
  for (const field of [form.elements.to, form.elements.cc]) {
    field.addEventListener("input", () => {
      clearTimeout(timer);
      const parts = field.value.split(/[,;]/);
      const typed = parts[parts.length - 1].trim();
      if (typed.length < 2) return;
      timer = setTimeout(async () => {
        const response = await fetch("/api/v1/people?limit=8&q=" + encodeURIComponent(typed), { credentials: "same-origin" });
        if (!response.ok) return;
        const before = parts.slice(0, -1).map((p) => p.trim()).filter(Boolean);
        list.replaceChildren(...(await response.json()).people.map((person) => {
          const option = document.createElement("option");
          option.value = before.concat(person.email).join(", ");
          option.label = (person.name || person.email) + (person.company ? " · " + person.company : "");
          return option;
        }));
      }, 150);
    });
  }
  const box = document.getElementById("preview");
  document.getElementById("preview-button").addEventListener("click", async () => {
    const response = await fetch("/app/compose/preview", { method: "POST", credentials: "same-origin", body: new FormData(form) });
    const data = await response.json();
    box.hidden = false;
    const error = document.getElementById("preview-error");
    error.hidden = response.ok;
    if (!response.ok) {
      error.textContent = data.error;
      return;
    }
    const first = data.copies[0];
    document.getElementById("preview-who").textContent = "as " + first.address + " will read it";
    document.getElementById("preview-subject").textContent = first.subject;
    document.getElementById("preview-frame").srcdoc = first.html || "<pre>" + first.text.replace(/&/g, "&amp;").replace(/</g, "&lt;") + "</pre>";
    document.getElementById("preview-others").textContent = data.copies.length > 1 ? "and " + (data.copies.length - 1) + " more, each with their own fields" : "";
  });
});
