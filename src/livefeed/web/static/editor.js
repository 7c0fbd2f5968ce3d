"use strict";
// The compose editor: a contenteditable box under a small toolbar (bold, italic, underline, lists,
// quote, link, clear formatting, personal fields), no build step. Without scripts the plain
// textarea stays and works. The form sends the editor's HTML as `html`; the server cleans it to
// the same small allowlist before it is previewed, saved or sent.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.compose[action=\"/app/compose\"]");
  if (!form || !form.elements.body || !form.elements.html) return;   // only the email compose form has a message
  const textarea = form.elements.body;
  const hidden = form.elements.html;
  const label = document.getElementById("message-label");

  const toolbar = document.createElement("div");
  toolbar.className = "editor-toolbar";
  toolbar.setAttribute("role", "toolbar");
  toolbar.setAttribute("aria-label", "Formatting");
  const editor = document.createElement("div");
  editor.className = "editor";
  editor.contentEditable = "true";
  editor.id = "message-editor";
  editor.setAttribute("role", "textbox");
  editor.setAttribute("aria-multiline", "true");
  editor.setAttribute("aria-labelledby", "message-heading");
  editor.dataset.placeholder = textarea.placeholder;

  const BUTTONS = [
    ["bold", "B", "Bold (Ctrl+B)"], ["italic", "I", "Italic (Ctrl+I)"], ["underline", "U", "Underline (Ctrl+U)"],
    ["insertUnorderedList", "• List", "Bulleted list"], ["insertOrderedList", "1. List", "Numbered list"],
    ["formatBlock:blockquote", "❝ Quote", "Quote"], ["createLink", "Link…", "Link (Ctrl+K)"], ["removeFormat", "⌫ Clear", "Clear formatting"],
  ];
  const STATEFUL = new Set(["bold", "italic", "underline", "insertUnorderedList", "insertOrderedList"]);
  let saved = null; // the selection in the editor, kept while a toolbar control has focus

  function remember() {
    const selection = window.getSelection();
    if (selection.rangeCount && editor.contains(selection.getRangeAt(0).commonAncestorContainer)) saved = selection.getRangeAt(0).cloneRange();
  }
  function restore() {
    editor.focus();
    if (saved) {
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(saved);
    }
  }
  function refresh() {
    for (const button of toolbar.querySelectorAll("button[data-command]")) {
      if (STATEFUL.has(button.dataset.command)) button.setAttribute("aria-pressed", String(document.queryCommandState(button.dataset.command)));
    }
  }
  function link() {
    const url = (window.prompt("Link address (https://…, mailto: or tel:)", "https://") || "").trim();
    if (!/^(https?:\/\/[^\s]+|mailto:[^\s]+|tel:[+0-9][0-9 ()-]*)$/i.test(url) || url === "https://") return;
    restore();
    if (window.getSelection().isCollapsed) document.execCommand("insertText", false, url);
    if (window.getSelection().isCollapsed) {
      const range = window.getSelection().getRangeAt(0);
      range.setStart(range.endContainer, Math.max(0, range.endOffset - url.length));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    }
    document.execCommand("createLink", false, url);
  }
  function run(command) {
    if (command === "createLink") return link();
    restore();
    const [name, value] = command.split(":");
    document.execCommand(name, false, value);
    refresh();
  }

  for (const [command, text, title] of BUTTONS) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.command = command;
    const shown = document.createElement("span"), name = document.createElement("span");
    shown.setAttribute("aria-hidden", "true");
    shown.textContent = text;
    name.className = "sr-only";
    name.textContent = title.replace(/ \(.*\)$/, "");
    button.append(shown, name);
    button.title = title;
    button.addEventListener("mousedown", (e) => e.preventDefault()); // keep the editor's selection
    button.addEventListener("click", () => run(command));
    toolbar.append(button);
  }
  const fields = document.createElement("select");
  fields.setAttribute("aria-label", "Insert a personal field");
  fields.append(new Option("Insert field…", ""));
  for (const name of ["first_name", "last_name", "name", "company", "title", "sender_name"]) fields.append(new Option(name.replace("_", " "), name));
  fields.addEventListener("change", () => {
    if (!fields.value) return;
    restore();
    document.execCommand("insertText", false, "{{" + fields.value + "}}");
    fields.value = "";
  });
  toolbar.append(fields);

  editor.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") { e.preventDefault(); remember(); link(); }
  });
  editor.addEventListener("keyup", () => { remember(); refresh(); });
  editor.addEventListener("mouseup", () => { remember(); refresh(); });
  editor.addEventListener("input", () => { remember(); textarea.value = editor.innerText.trim(); });
  document.execCommand("defaultParagraphSeparator", false, "p");

  // Start from what the server sent back (its cleaned HTML after a refused send), else the text.
  function paragraphs(text) {
    const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return text.trim() ? text.split(/\n{2,}/).map((p) => "<p>" + escape(p).replace(/\n/g, "<br>") + "</p>").join("") : "";
  }
  editor.innerHTML = hidden.value || paragraphs(textarea.value);
  textarea.hidden = true;
  textarea.required = false;
  const heading = document.createElement("span");
  heading.id = "message-heading";
  heading.className = "field-label";
  heading.textContent = "Message";
  label.after(heading, toolbar, editor);
  label.hidden = true;

  form.addEventListener("formdata", (e) => {
    e.formData.set("html", editor.textContent.trim() ? editor.innerHTML : "");
    e.formData.set("body", editor.innerText.trim());
  });
  form.addEventListener("submit", (e) => {
    if (!editor.textContent.trim()) {
      e.preventDefault();
      editor.focus();
      editor.setAttribute("aria-invalid", "true");
    }
  });

  // For the template controls (app.js): read and replace the message.
  form.editor = {
    get html() { return editor.textContent.trim() ? editor.innerHTML : ""; },
    set html(value) { editor.innerHTML = value; textarea.value = editor.innerText.trim(); },
  };
});
