// Everything that knows Gmail's page lives here: the selectors, how to read a compose window's
// recipients, subject, body and thread, and how to press Gmail's own buttons. Gmail is not ours and
// changes; when it does, this is the one file to fix.
//
// Sources of each selector (read at gmail-js b7dfdab, 2026-03-25, src/gmail.js — "api.dom.compose",
// "is_peoplekit_compose", "get.thread_id"; and checked against Gmail's markup as served in 2026):
//   compose root            div.M9                               gmail-js api.dom.composes
//   inline (reply/forward)  an ancestor .AO                      gmail-js compose.is_inline
//   recipients (PeopleKit)  div[name=to|cc|bcc] [data-hovercard-id]   gmail-js compose.recipients
//   recipients (older)      .GS input[type=hidden][name=to|cc|bcc]     gmail-js compose.recipients
//   typing area             div[name=to] input / textarea[name=to]     gmail-js compose.dom
//   subject                 input[name=subjectbox], input[name=subject]
//   body                    div[contenteditable=true][role=textbox] (aria-label "Message Body")
//   send button             div.T-I.T-I-atl[role=button] ("Send ‪(Ctrl-Enter)‬")
//   discard                 [role=button][aria-label^="Discard draft"]
//   thread id               input[name=rt] in the compose, else h2[data-legacy-thread-id] of the open thread
// Gmail's buttons act on mousedown/mouseup/click in sequence (as gmail-js and InboxSDK press them).
"use strict";
(function () {
  const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

  function composes(root) {
    return Array.from((root || document).querySelectorAll("div.M9"));
  }

  function isInline(compose) {
    return !!compose.closest(".AO");
  }

  function recipients(compose) {
    const found = { to: [], cc: [], bcc: [] };
    for (const type of Object.keys(found)) {
      const chips = compose.querySelectorAll(`div[name=${type}] [data-hovercard-id]`);
      const hidden = compose.querySelectorAll(`.GS input[type=hidden][name=${type}]`);
      for (const el of chips) found[type].push(el.getAttribute("data-hovercard-id"));
      for (const el of hidden) if (el.value) found[type].push(...el.value.split(",").map((v) => v.trim()).filter(Boolean));
      // an address typed but not yet turned into a chip goes out too
      const typing = compose.querySelector(`div[name=${type}] input, textarea[name=${type}]`);
      if (typing && ADDRESS.test(typing.value.trim())) found[type].push(typing.value.trim());
      found[type] = Array.from(new Set(found[type].map((a) => a.trim().replace(/^.*<([^>]+)>.*$/, "$1").toLowerCase())
                                                 .filter((a) => ADDRESS.test(a))));
    }
    return found;
  }

  function subjectInput(compose) {
    // the visible box the rep types in (a form may also carry a hidden copy of the same name)
    return compose.querySelector("input[name=subjectbox]:not([type=hidden])") ||
           compose.querySelector("input[name=subject]:not([type=hidden])") || compose.querySelector("input[name=subjectbox]");
  }

  function subject(compose) {
    const input = subjectInput(compose);
    return input ? input.value : "";
  }

  function body(compose) {
    return compose.querySelector("div[contenteditable=true][role=textbox]") ||
           compose.querySelector("div[contenteditable=true]:not([id=subject])");
  }

  // Gmail's thread id in the API's form (hex): "#thread-f:178…" (decimal) or a legacy hex id.
  function threadId(compose) {
    const input = compose.querySelector("input[name=rt]");
    let raw = input && input.value && input.value !== "undefined" ? input.value : "";
    if (!raw && isInline(compose)) {
      const heading = document.querySelector("h2[data-legacy-thread-id]");
      raw = heading ? heading.dataset.legacyThreadId : "";
    }
    raw = raw.replace(/^#/, "").replace(/^thread-[af]:/, "");
    if (/^\d{10,25}$/.test(raw)) return BigInt(raw).toString(16);
    return /^[0-9a-f]{8,32}$/.test(raw) ? raw : null;
  }

  function sendButton(compose) {   // not .hG: the arrow beside it opens "Schedule send"
    return compose.querySelector("div.T-I.T-I-atl[role=button]:not(.hG)");
  }

  // Attachments (gmail-js compose.attachments: div.dL) and images pasted into the body (kept by
  // Gmail, not at a public address): only Gmail itself can send those.
  function hasGmailOnlyParts(compose) {
    if (compose.querySelector("div.dL")) return true;
    const editor = body(compose);
    return !!editor && Array.from(editor.querySelectorAll("img")).some((img) => !/^https?:/i.test(img.getAttribute("src") || "") ||
                                                                      /googleusercontent\.com|mail\.google\.com/.test(img.getAttribute("src")));
  }

  function discardButton(compose) {
    return compose.querySelector('[role=button][aria-label^="Discard draft"], [role=button][data-tooltip^="Discard draft"]');
  }

  function press(el) {
    for (const type of ["mousedown", "mouseup", "click"]) {
      el.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window }));
    }
  }

  function isSendKey(event) {
    return event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey;
  }

  // The open thread (gmail-js get.thread_id; message headers: span.gD[email] is a sender, span.g2[email]
  // a recipient, as gmail-js's email parsing reads them).
  function threadHeading(root) {
    return (root || document).querySelector("h2[data-legacy-thread-id]");
  }

  function threadPeople(root) {
    return Array.from((root || document).querySelectorAll("span.gD[email], span.g2[email]"))
      .map((el) => ({ email: el.getAttribute("email").toLowerCase(), name: el.getAttribute("name") || el.textContent.trim() }));
  }

  // Text or HTML typed into the body where the caret is (Gmail's editor keeps its model in step
  // with the DOM through input events).
  function insertIntoBody(compose, nodes) {
    const editor = body(compose);
    if (!editor) return;
    editor.focus();
    const selection = window.getSelection();
    let range = selection.rangeCount ? selection.getRangeAt(0) : null;
    if (!range || !editor.contains(range.commonAncestorContainer)) {
      range = document.createRange();
      range.selectNodeContents(editor);
      range.collapse(false);
    }
    range.deleteContents();
    const fragment = document.createDocumentFragment();
    for (const node of nodes) fragment.append(node);
    const last = fragment.lastChild;
    range.insertNode(fragment);
    if (last) { range.setStartAfter(last); range.collapse(true); selection.removeAllRanges(); selection.addRange(range); }
    editor.dispatchEvent(new InputEvent("input", { bubbles: true }));
  }

  // Gmail changes its page all the time: `fn` runs once a frame at most after any change, and once now.
  function onChange(fn) {
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; fn(); });
    }).observe(document.documentElement, { childList: true, subtree: true });
    fn();
  }

  window.livefeedGmail = { hasGmailOnlyParts, onChange, threadHeading, threadPeople, insertIntoBody, subjectInput, composes, isInline, recipients, subject, body, threadId, sendButton, discardButton, press, isSendKey };
})();
