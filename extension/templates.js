// LiveFeed's templates and personal fields in Gmail's compose window: a "Templates" button beside
// the Track switch opens a menu; a template fills an empty subject and goes into the body where the
// caret is; a field ({{first_name}}…) is filled for each recipient when LiveFeed sends. Template
// HTML comes from the rep's server (cleaned there); it is parsed inert here and only plain
// formatting and links are kept, so nothing from it can run in Gmail's page.
"use strict";
(function () {
  const gmail = window.livefeedGmail;
  const FIELDS = [["first_name", "First name"], ["last_name", "Last name"], ["name", "Full name"], ["company", "Company"],
                  ["title", "Title"], ["sender_name", "Your name"]];
  const KEEP = new Set(["P", "BR", "B", "STRONG", "I", "EM", "U", "UL", "OL", "LI", "BLOCKQUOTE", "H1", "H2", "H3", "A", "DIV", "SPAN"]);

  function inert(html) {
    const doc = new DOMParser().parseFromString("<body>" + html, "text/html");   // scripts do not run here
    const out = [];
    function copy(node) {
      if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.textContent);
      if (node.nodeType !== Node.ELEMENT_NODE) return null;
      const kids = Array.from(node.childNodes).map(copy).filter(Boolean);
      if (!KEEP.has(node.tagName)) { const f = document.createDocumentFragment(); f.append(...kids); return f; }
      const el = document.createElement(node.tagName);
      if (node.tagName === "A") {
        const href = node.getAttribute("href") || "";
        if (/^(https?:|mailto:|tel:)/i.test(href) || /^\{\{\w+\}\}$/.test(href)) el.setAttribute("href", href);
      }
      el.append(...kids);
      return el;
    }
    for (const node of Array.from(doc.body.childNodes)) { const c = copy(node); if (c) out.push(c); }
    return out;
  }

  function item(label, onChoose) {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "menuitem");
    button.textContent = label;
    button.addEventListener("click", (event) => { event.stopPropagation(); onChoose(); });
    return button;
  }

  async function fill(menu, compose, toggle) {
    menu.replaceChildren();
    const close = () => { menu.hidden = true; toggle.setAttribute("aria-expanded", "false"); toggle.focus(); };
    const answer = await chrome.runtime.sendMessage({ type: "api", method: "GET", path: "/api/v1/templates" }).catch(() => null);
    if (!answer || answer.status !== 200) {
      const note = document.createElement("p");
      note.textContent = (answer && answer.error) || "LiveFeed's templates could not be loaded.";
      menu.append(note);
    } else if (!answer.body.templates.length) {
      const note = document.createElement("p");
      note.textContent = "No templates yet: save some in LiveFeed (Templates).";
      menu.append(note);
    }
    for (const template of (answer && answer.status === 200 ? answer.body.templates : [])) {
      menu.append(item(template.name, () => {
        const subject = gmail.subjectInput(compose);
        if (subject && !subject.value.trim()) {
          subject.value = template.subject;
          subject.dispatchEvent(new Event("input", { bubbles: true }));
        }
        gmail.insertIntoBody(compose, inert(template.html));
        close();
      }));
    }
    const fields = document.createElement("div");
    fields.setAttribute("role", "group");
    fields.setAttribute("aria-label", "Personal fields");
    for (const [name, label] of FIELDS) {
      fields.append(item(label, () => { gmail.insertIntoBody(compose, [document.createTextNode("{{" + name + "}}")]); close(); }));
    }
    menu.append(fields);
    const first = menu.querySelector("[role=menuitem]");
    if (first) first.focus();
  }

  function decorate(compose) {
    const box = compose.querySelector(".livefeed-track");
    if (!box || box.querySelector(".livefeed-templates")) return;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "livefeed-templates";
    toggle.textContent = "Templates";
    toggle.setAttribute("aria-haspopup", "menu");
    toggle.setAttribute("aria-expanded", "false");
    const menu = document.createElement("div");
    menu.className = "livefeed-menu";
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", "LiveFeed templates and personal fields");
    menu.hidden = true;
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.stopPropagation(); menu.hidden = true; toggle.setAttribute("aria-expanded", "false"); toggle.focus(); }
    });
    toggle.addEventListener("click", (event) => {
      event.stopPropagation();
      menu.hidden = !menu.hidden;
      toggle.setAttribute("aria-expanded", String(!menu.hidden));
      if (!menu.hidden) fill(menu, compose, toggle);
    });
    box.append(toggle, menu);
  }

  gmail.onChange(() => gmail.composes().forEach(decorate));
})();
