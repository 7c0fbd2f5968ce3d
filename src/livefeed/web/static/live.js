// The Live Feed window: one EventSource, rows rendered with textContent only (no HTML from data).
"use strict";
(function () {
  const VERBS = { open: "viewed", click: "clicked a link in", reply: "replied to", auto_reply: "auto-replied to",
                  bounce: "did not receive" };
  // Marketing engagement (purple rows): what the row says before its text.
  const MARKETING = { moment: "", form: "filled out ", marketing_open: "opened marketing email ",
                      marketing_click: "clicked in marketing email ", visit: "visited your website" };
  const section = document.getElementById("tab-engagement");
  const feed = document.getElementById("feed");
  const empty = document.getElementById("empty");
  const template = document.getElementById("row-template");
  const statusBox = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const machineToggle = document.getElementById("show-machine");
  const machineCount = document.getElementById("machine-count");
  const coalesceMs = Number(section.dataset.coalesceMinutes || 10) * 60000;
  const rowsByKey = new Map();   // coalescing key -> row state
  const rowsById = new Map();    // event id -> row state
  let lastId = null, lastEventAt = null, source = null, retryMs = 1000, live = false;

  function announce(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail }));
  }

  function ago(date) {
    const s = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
    if (s < 45) return "just now";
    if (s < 90) return "1 min ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    return date.toLocaleDateString([], { timeZone: document.body.dataset.timezone });  // the rep's zone
  }

  function setStatus(state) {
    statusBox.className = "status " + state;
    const last = lastEventAt ? " · last event " + ago(lastEventAt) : "";
    statusText.textContent = (state === "live" ? "Live" : state === "reconnecting" ? "Reconnecting…" : "Connecting…") + last;
  }

  function refreshTimes() {
    for (const row of rowsByKey.values()) row.el.querySelector(".when").textContent = ago(row.at);
    setStatus(statusBox.classList.contains("live") ? "live" : statusBox.classList.contains("reconnecting") ? "reconnecting" : "connecting");
  }

  function countMachine() {
    let n = 0;
    for (const row of rowsByKey.values()) if (!row.alert) n++;
    machineCount.textContent = String(n);
  }

  function what(ev, row) {
    if (ev.email) return (VERBS[ev.kind] || ev.kind) + " “" + ev.email.subject + "”";
    if (ev.class !== "marketing") return ev.message || ev.reason;
    if (ev.kind === "moment") return ev.reason + ": " + (ev.message || "");
    if (ev.kind === "visit") return MARKETING.visit + ": " + (row.pages.length ? row.pages.join(" · ") : "page not known");
    return MARKETING[ev.kind] + (ev.message ? "“" + ev.message + "”" : "");
  }

  function paint(row, ev) {
    const el = row.el;
    const purple = ev.class === "marketing";
    el.className = "row cls-" + ev.class + (ev.alert ? "" : " greyed") + (purple ? " purple" : " blue");
    el.dataset.kind = ev.kind;
    el.dataset.class = ev.class;
    const notice = !ev.person;                        // about the rep's own account, not a person
    el.dataset.person = notice ? "" : ev.person.id;
    const momentType = ev.kind === "moment" && /\((Email|Web|Milestone)\)/.exec(ev.reason || "");
    el.querySelector(".icon use").setAttribute("href", "#icon-" + ev.kind + (momentType ? "-" + momentType[1].toLowerCase() : ""));
    // one body Gmail sent to several people: whoever opened it is one of them (the first is named)
    const shared = ev.email && ev.email.shared_with > 1 ? " (one of " + ev.email.shared_with + " recipients)" : "";
    const who = el.querySelector(".who");
    if (notice) {
      who.textContent = ev.reason;
    } else {                                          // the name opens the person's page
      const name = document.createElement("a");
      name.href = "/app/people/" + ev.person.id;
      name.target = "_blank";
      name.rel = "noopener";
      name.textContent = ev.person.name || ev.person.email;
      name.title = ev.person.email;
      who.replaceChildren(name, shared);
    }
    el.querySelector(".not-in").hidden = notice || ev.person.in_livefeed !== false;
    el.querySelector(".what").textContent = notice ? ev.message : what(ev, row);
    el.querySelector(".mk-task").hidden = notice;
    el.querySelector(".more").hidden = notice;
    const link = el.querySelector(".link");
    link.hidden = !ev.link_url;
    if (notice && ev.link_url) {                     // where to act on it: a real link
      const go = document.createElement("a");
      go.href = ev.link_url;
      go.target = "_blank";
      go.rel = "noopener";
      go.textContent = "Open Settings →";
      link.replaceChildren(go);
    } else {
      link.textContent = ev.link_url ? "→ " + ev.link_url : "";
    }
    const detail = el.querySelector(".detail");
    detail.hidden = !ev.detail;
    detail.textContent = ev.detail ? (ev.kind === "bounce" ? ev.reason + ": " : "") + ev.detail : "";
    // A place seen from a real device stays when later opens come through a mail proxy (which hides it).
    let where = ev.location ? ev.location.label + (ev.device ? " · " + ev.device : "") : "";
    if (ev.location && ev.location.city || ev.location && ev.location.country) row.place = where;
    else if (ev.location && ev.location.hidden && row.place) {
      where = row.place + " — newer opens came through " + ev.location.hidden.replace(/^Location hidden by /, "");
    }
    el.querySelector(".where").hidden = !where;
    el.querySelector(".where").textContent = where + (ev.location && ev.location.caveat && !ev.location.hidden ? " — " + ev.location.caveat : "");
    row.event = ev;
    const why = el.querySelector(".why");
    why.hidden = ev.alert;
    why.textContent = ev.alert ? "" : ev.class + ": " + ev.reason;
    el.title = ev.reason;
    const count = el.querySelector(".count");
    count.hidden = row.count < 2;
    count.textContent = "×" + row.count;
    el.querySelector(".when").dateTime = ev.at;
    el.querySelector(".when").textContent = ago(row.at);
    const fwd = el.querySelector(".forwarded");
    fwd.hidden = !ev.forwarded;
    const list = fwd.querySelector(".evidence");
    list.replaceChildren(...(ev.forward_evidence || []).map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
  }

  function add(ev) {
    if (rowsById.has(ev.id)) return;               // never show an event twice
    const at = new Date(ev.at);
    // A website visit is one row with its pages, however long it lasts.
    // Repeated opens and clicks of one email, and identical marketing rows, share a row; every
    // reply, auto-reply, bounce, pushed item and notice is its own row.
    const own = ["reply", "auto_reply", "bounce", "item", "notice"].includes(ev.kind);
    const same = ev.class === "marketing" ? ev.reason + "|" + (ev.message || "") : "";
    const key = ev.visit_id ? "visit|" + ev.visit_id : own ? "event|" + ev.id
      : [ev.person ? ev.person.id : "-", ev.email ? ev.email.id : "-", ev.kind, ev.alert ? "a" : "m", same].join("|");
    let row = rowsByKey.get(key);
    if (row && (ev.visit_id || at - row.at <= coalesceMs)) {
      row.count += 1;
      row.at = at;
    } else {
      if (row) row.el.dataset.key = "";             // older row stays, no longer coalescing
      row = { el: template.content.firstElementChild.cloneNode(true), count: 1, at, alert: ev.alert, ids: [], pages: [] };
      const state = row;
      row.el.querySelector(".mk-task").addEventListener("click", () => announce("livefeed:new-task", state.event));
      row.el.querySelector(".more").addEventListener("click", () => toggleMenu(state));
      rowsByKey.set(key, row);
    }
    if (ev.visit_id) {
      const page = ev.message || ev.link_url;
      if (page && row.pages[row.pages.length - 1] !== page) row.pages.push(page);
    }
    row.ids.push(ev.id);
    row.el.dataset.ids = row.ids.join(" ");
    rowsById.set(ev.id, row);
    paint(row, ev);
    feed.prepend(row.el);
    empty.hidden = true;
    if (ev.kind === "score") announce("livefeed:changed", { what: "targets" });
    if (live) announce("livefeed:row", ev);         // a new event while watching (not a replay)
    lastEventAt = at > (lastEventAt || 0) ? at : lastEventAt;
    countMachine();
  }

  // The down-arrow: add someone known only from marketing, and the quick actions.
  async function toggleMenu(row) {
    const menu = row.el.querySelector(".menu"), button = row.el.querySelector(".more");
    if (!menu.hidden) { menu.hidden = true; button.setAttribute("aria-expanded", "false"); return; }
    const ev = row.event;
    menu.replaceChildren();
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    let person = ev.person;
    try {
      const response = await fetch("/api/v1/people/" + ev.person.id, { credentials: "same-origin" });
      if (response.ok) person = await response.json();
    } catch (err) { console.warn(err); }
    if (person.in_livefeed === false) {
      const addButton = document.createElement("button");
      addButton.type = "button";
      addButton.className = "add";
      addButton.textContent = "Add " + (person.name || person.email) + " to LiveFeed";
      addButton.addEventListener("click", () => addPerson(row, addButton));
      menu.append(addButton);
    }
    if (window.livefeedQuickActions) menu.append(window.livefeedQuickActions(person));
    const task = document.createElement("button");
    task.type = "button";
    task.textContent = "Create task";
    task.addEventListener("click", () => { menu.hidden = true; announce("livefeed:new-task", ev); });
    menu.append(task);
  }

  async function addPerson(row, addButton) {
    addButton.disabled = true;
    const response = await fetch("/api/v1/people/" + row.event.person.id + "/add", { method: "POST", credentials: "same-origin" });
    if (!response.ok) {
      addButton.disabled = false;
      const error = document.createElement("p");
      error.className = "menu-error";
      error.textContent = "Not added (" + response.status + "). Try again.";
      addButton.after(error);
      return;
    }
    const person = await response.json();
    for (const other of new Set(rowsById.values())) {  // every row of this person: now in LiveFeed
      if (!other.event.person || other.event.person.id !== person.id) continue;
      other.event.person.in_livefeed = true;
      other.el.querySelector(".not-in").hidden = true;
    }
    addButton.remove();
    const menu = row.el.querySelector(".menu");           // done: the menu closes, the row says so
    menu.hidden = true;
    row.el.querySelector(".more").setAttribute("aria-expanded", "false");
    const note = document.createElement("span");
    note.className = "added";
    note.setAttribute("role", "status");
    note.textContent = "Added to LiveFeed";
    row.el.querySelector(".line1").append(note);
    setTimeout(() => note.remove(), 4000);
  }

  function revise(data) {
    for (const id of data.ids) {
      const row = rowsById.get(id);
      if (!row) continue;
      row.alert = false;
      row.el.classList.add("greyed", "cls-" + data.class);
      row.el.dataset.class = data.class;
      const why = row.el.querySelector(".why");
      why.hidden = false;
      why.textContent = data.class + ": " + data.reason;
    }
    countMachine();
  }

  // /live#event-123 (a desktop notification clicked): that row, scrolled to and marked.
  function focusFromHash() {
    const wanted = /^#event-(\d+)$/.exec(location.hash);
    const row = wanted && rowsById.get(Number(wanted[1]));
    if (!row) return;
    showTab("engagement");
    for (const el of feed.querySelectorAll(".row.focused")) el.classList.remove("focused");
    row.el.classList.add("focused");
    row.el.tabIndex = -1;
    row.el.scrollIntoView({ block: "center" });
    row.el.focus();
  }
  window.addEventListener("hashchange", focusFromHash);

  function connect() {
    const url = section.dataset.stream + (lastId !== null ? "&after=" + lastId : "");
    source = new EventSource(url);
    source.addEventListener("open", () => { retryMs = 1000; setStatus("live"); });
    source.addEventListener("ready", () => {
      live = true;                                        // the replay is done: what follows is new
      setStatus("live");
      announce("livefeed:changed", { what: "tasks" });      // (re)connected: reload the lists,
      announce("livefeed:changed", { what: "targets" });    // whatever changed while away
      focusFromHash();
    });
    source.addEventListener("changed", (msg) => announce("livefeed:changed", JSON.parse(msg.data)));
    source.addEventListener("hit", (msg) => {
      lastId = Number(msg.lastEventId);
      add(JSON.parse(msg.data));
      setStatus("live");
    });
    source.addEventListener("revise", (msg) => revise(JSON.parse(msg.data)));
    source.addEventListener("error", () => {
      live = false;                                       // a reconnect replays what was missed
      setStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {   // the browser gave up: retry ourselves
        source.close();
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    });
  }

  machineToggle.addEventListener("change", () => document.body.classList.toggle("show-machine", machineToggle.checked));
  function showTab(name) {
    for (const other of document.querySelectorAll("[data-tab]")) {
      const on = other.dataset.tab === name;
      other.classList.toggle("active", on);
      other.setAttribute("aria-selected", String(on));
      document.getElementById("tab-" + other.dataset.tab).hidden = !on;
    }
  }
  for (const tab of document.querySelectorAll("[data-tab]")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  document.addEventListener("livefeed:show-tab", (e) => showTab(e.detail.tab));
  setInterval(refreshTimes, 30000);
  // Connect once every deferred script has run: a frame ("ready" reloads the Tasks and Target
  // lists) must not arrive while lists.js is still downloading and has no listener yet.
  document.addEventListener("DOMContentLoaded", connect);
})();
