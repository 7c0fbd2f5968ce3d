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
  const form = document.querySelector("form.compose[action=\"/app/compose\"]");
  if (!form) return;
  const list = document.getElementById("people-suggestions");
  let timer = null;
  for (const field of [form.elements.to, form.elements.cc, form.elements.bcc].filter(Boolean)) {
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

// Compose: saved templates. Choosing one fills the subject and the message (asking first when the
// message has text); "Save as template…" stores the current subject and message under a name
// (replacing one of your own with that name, after asking).
document.addEventListener("DOMContentLoaded", async () => {
  const form = document.querySelector("form.compose[action=\"/app/compose\"]");
  const bar = document.querySelector("[data-templates]");
  if (!form || !bar || !form.editor) return;
  const select = bar.querySelector("[data-template-select]");
  const status = bar.querySelector("[data-template-status]");
  let known = [];
  const api = window.LiveFeed.api;  // static/api.js
  async function load(chosen) {
    known = (await api("GET", "/api/v1/templates")).templates;
    select.replaceChildren(new Option("— none —", ""), ...known.map((t) => new Option(t.name + (t.mine ? "" : " (shared by " + t.author.name + ")"), t.id)));
    if (chosen) select.value = String(chosen);
  }
  select.addEventListener("change", () => {
    const template = known.find((t) => String(t.id) === select.value);
    if (!template) return;
    if (form.editor.html && !window.confirm("Replace your subject and message with the template “" + template.name + "”?")) {
      select.value = "";
      return;
    }
    form.elements.subject.value = template.subject;
    form.editor.html = template.html;
    status.textContent = "Template “" + template.name + "” loaded.";
  });
  bar.querySelector("[data-action=save-template]").addEventListener("click", async () => {
    const current = known.find((t) => String(t.id) === select.value);
    const name = (window.prompt("Save the subject and message as a template named:", current && current.mine ? current.name : "") || "").trim();
    if (!name) return;
    const body = { name, subject: form.elements.subject.value, html: form.editor.html };
    const same = known.find((t) => t.mine && t.name === name);
    try {
      if (same && !window.confirm("Replace your template “" + name + "”?")) return;
      const saved = same ? await api("PATCH", "/api/v1/templates/" + same.id, body) : await api("POST", "/api/v1/templates", body);
      await load(saved.id);
      status.textContent = "Saved as “" + saved.name + "”.";
    } catch (err) { status.textContent = "Not saved: " + err.message; }
  });
  try {
    await load(new URLSearchParams(location.search).get("template"));
    bar.hidden = false;
    if (select.value) select.dispatchEvent(new Event("change"));
  } catch (err) { /* no templates bar: compose still works */ }
});
