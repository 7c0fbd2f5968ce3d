// Tracked sending from Gmail's compose windows: a "Track" switch beside Send (on by default, a
// setting), and with it on, Send (the button and Ctrl/Cmd+Enter) goes through LiveFeed:
// - a rep with a sending account in LiveFeed: LiveFeed sends one tracked copy per recipient as them,
//   then the Gmail draft is discarded;
// - otherwise: LiveFeed returns one tracked body, it replaces the draft's and Gmail sends it.
// If LiveFeed cannot be reached or refuses, nothing is sent and the draft stays: the compose window
// says why and offers "Send without tracking". Gmail's page is read only through gmail-dom.js.
"use strict";
(function () {
  const gmail = window.livefeedGmail;
  let trackByDefault = true;
  chrome.storage.sync.get({ trackByDefault: true }).then((v) => { trackByDefault = v.trackByDefault; });

  function state(compose) {
    if (!compose.livefeed) compose.livefeed = { track: trackByDefault, busy: false, pass: false };
    return compose.livefeed;
  }

  function decorate(compose) {
    const send = gmail.sendButton(compose);
    if (!send || compose.querySelector(".livefeed-track")) return;
    const mine = state(compose);
    const box = document.createElement("span");
    box.className = "livefeed-track";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "livefeed-switch";
    toggle.setAttribute("role", "switch");
    toggle.setAttribute("aria-label", "Track with LiveFeed");
    const paint = () => {
      toggle.setAttribute("aria-checked", String(mine.track));
      toggle.textContent = mine.track ? "Tracked" : "Not tracked";
      toggle.title = mine.track ? "LiveFeed tracks opens and clicks of this message (click to send it untracked)"
                                : "This message will not be tracked (click to track it with LiveFeed)";
    };
    toggle.addEventListener("click", (event) => { event.stopPropagation(); mine.track = !mine.track; paint(); });
    paint();
    box.append(toggle);
    send.insertAdjacentElement("afterend", box);

    const hold = document.createElement("div");
    hold.className = "livefeed-hold";
    hold.setAttribute("role", "alert");
    hold.hidden = true;
    const text = document.createElement("span");
    text.className = "livefeed-hold-text";
    const untracked = document.createElement("button");
    untracked.type = "button";
    untracked.textContent = "Send without tracking";
    untracked.addEventListener("click", (event) => {
      event.stopPropagation();
      hold.hidden = true;
      passThrough(compose);
    });
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Try again";
    retry.addEventListener("click", (event) => { event.stopPropagation(); hold.hidden = true; trackedSend(compose); });
    hold.append(text, " ", retry, " ", untracked);
    const editor = gmail.body(compose);
    (editor ? editor.parentElement : box).insertAdjacentElement("beforebegin", hold);
    mine.hold = hold;
  }

  function holdWith(compose, message) {
    const mine = state(compose);
    mine.hold.querySelector(".livefeed-hold-text").textContent = "Not sent: " + message + " Your draft is kept.";
    mine.hold.hidden = false;
  }

  function passThrough(compose) {            // Gmail sends it as it stands
    const mine = state(compose);
    mine.pass = true;
    gmail.press(gmail.sendButton(compose));
    mine.pass = false;
  }

  function toast(message) {
    const note = document.createElement("div");
    note.className = "livefeed-toast";
    note.setAttribute("role", "status");
    note.textContent = message;
    document.body.append(note);
    setTimeout(() => note.remove(), 8000);
  }

  async function trackedSend(compose) {
    const mine = state(compose);
    if (mine.busy) return;
    const to = gmail.recipients(compose);
    if (!to.to.length && !to.cc.length && !to.bcc.length) { passThrough(compose); return; }   // Gmail asks for one
    const editor = gmail.body(compose);
    const draft = { to: to.to.length ? to.to : to.cc.length ? to.cc : to.bcc,
                    cc: to.to.length ? to.cc : [], bcc: to.to.length || to.cc.length ? to.bcc : [],
                    subject: gmail.subject(compose) || "(no subject)", html: editor ? editor.innerHTML : "" };
    const thread = gmail.threadId(compose);
    if (thread) draft.thread_id = thread;
    mine.busy = true;
    compose.setAttribute("aria-busy", "true");
    let answer;
    try {
      // with attachments or pasted images, Gmail sends (LiveFeed tracks the body it prepared)
      answer = await chrome.runtime.sendMessage({ type: "send", draft, gmailSends: gmail.hasGmailOnlyParts(compose) });
    } catch (err) {
      answer = { ok: false, error: "the LiveFeed extension did not answer (reload Gmail)." };
    }
    mine.busy = false;
    compose.removeAttribute("aria-busy");
    if (!answer || !answer.ok) { holdWith(compose, (answer && answer.error) || "LiveFeed did not answer."); return; }
    if (answer.mode === "sent") {           // LiveFeed sent it as the rep: the draft goes
      mine.pass = true;
      const discard = gmail.discardButton(compose);
      if (discard) gmail.press(discard);
      mine.pass = false;
      toast(answer.queued ? "Message queued — LiveFeed sends it as soon as your mail server takes it." : "Message sent — tracked by LiveFeed.");
    } else {                                // one tracked body: Gmail sends it
      editor.innerHTML = answer.html;
      editor.dispatchEvent(new InputEvent("input", { bubbles: true }));
      passThrough(compose);
    }
  }

  function composeOf(target) {
    return target instanceof Element ? target.closest("div.M9") : null;
  }

  // Capture on window: before Gmail's own handlers see Send.
  for (const type of ["mousedown", "mouseup", "click"]) {
    window.addEventListener(type, (event) => {
      const compose = composeOf(event.target);
      if (!compose) return;
      const send = gmail.sendButton(compose);
      if (!send || !send.contains(event.target)) return;
      const mine = state(compose);
      if (mine.pass || !mine.track) return;
      event.stopImmediatePropagation();
      event.preventDefault();
      if (type === "click") trackedSend(compose);
    }, true);
  }
  window.addEventListener("keydown", (event) => {
    if (!gmail.isSendKey(event)) return;
    const compose = composeOf(event.target);
    if (!compose) return;
    const mine = state(compose);
    if (mine.pass || !mine.track) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    trackedSend(compose);
  }, true);

  gmail.onChange(() => gmail.composes().forEach(decorate));
})();
