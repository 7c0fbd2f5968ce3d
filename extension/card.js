// In an open Gmail thread, a small LiveFeed card for the person the rep writes to (the thread's
// first participant who is not the rep): their newest rows with the rep, open tasks, Target
// stars, and "Add to LiveFeed" when they are not in it yet. Everything shown is set as text.
"use strict";
(function () {
  const gmail = window.livefeedGmail;
  const VERBS = { open: "viewed", click: "clicked in", reply: "replied to", auto_reply: "auto-replied to", bounce: "bounced" };

  function ago(iso) {
    const minutes = Math.round((Date.now() - Date.parse(iso)) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return minutes + " min ago";
    if (minutes < 48 * 60) return Math.round(minutes / 60) + " h ago";
    return Math.round(minutes / 1440) + " days ago";
  }

  function line(text, className) {
    const el = document.createElement("li");
    el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  async function me() {
    const answer = await chrome.runtime.sendMessage({ type: "api", method: "GET", path: "/api/v1/me" }).catch(() => null);
    return answer && answer.status === 200 ? answer.body : null;
  }

  function render(card, data) {
    card.replaceChildren();
    const head = document.createElement("div");
    head.className = "livefeed-card-head";
    const who = document.createElement("strong");
    const person = data.person;
    who.textContent = person ? (person.name || person.email) : data.email;
    head.append(who);
    if (person && person.company) head.append(" · " + person.company);
    if (data.stars) {
      const stars = document.createElement("span");
      stars.className = "livefeed-stars";
      stars.textContent = " " + "★".repeat(data.stars);
      stars.setAttribute("aria-label", data.stars + " of 3 stars on your Target list");
      head.append(stars);
    }
    card.append(head);
    const rows = document.createElement("ul");
    for (const ev of data.recent.slice(0, 3)) {
      const what = ev.email ? (VERBS[ev.kind] || ev.kind) + " “" + ev.email.subject + "”" : (ev.message || ev.reason);
      rows.append(line(what + " · " + ago(ev.at), ev.alert ? "" : "livefeed-muted"));
    }
    if (!data.recent.length) rows.append(line(person ? "No engagement with you yet." : "Not in LiveFeed yet.", "livefeed-muted"));
    for (const task of data.open_tasks.slice(0, 3)) rows.append(line("Task: " + task.title + (task.due_date ? " (due " + task.due_date + ")" : "")));
    card.append(rows);
    if (!person || person.in_livefeed === false) {
      const add = document.createElement("button");
      add.type = "button";
      add.textContent = "Add to LiveFeed";
      add.addEventListener("click", async () => {
        add.disabled = true;
        const answer = person
          ? await chrome.runtime.sendMessage({ type: "api", method: "POST", path: "/api/v1/people/" + person.id + "/add" })
          : await chrome.runtime.sendMessage({ type: "api", method: "POST", path: "/api/v1/people", body: { email: data.email } });
        const status = document.createElement("p");
        status.setAttribute("role", "status");
        if (answer && answer.status >= 200 && answer.status < 300) {
          status.textContent = "Added to LiveFeed.";
          add.remove();
        } else {
          status.textContent = "Not added: " + ((answer && (answer.error || answer.status)) || "LiveFeed did not answer") + ".";
          add.disabled = false;
        }
        card.append(status);
      });
      card.append(add);
    }
  }

  let mine = null;
  async function decorate() {
    const heading = gmail.threadHeading();
    if (!heading || heading.dataset.livefeedCard) return;
    heading.dataset.livefeedCard = "pending";
    mine = mine || await me();
    if (!mine) { delete heading.dataset.livefeedCard; return; }
    const other = gmail.threadPeople().find((p) => p.email !== mine.email.toLowerCase());
    if (!other) return;
    const card = document.createElement("section");
    card.className = "livefeed-card";
    card.setAttribute("aria-label", "LiveFeed: " + (other.name || other.email));
    heading.insertAdjacentElement("afterend", card);
    heading.dataset.livefeedCard = other.email;
    const answer = await chrome.runtime.sendMessage({ type: "api", method: "GET",
      path: "/api/v1/people/card?email=" + encodeURIComponent(other.email) }).catch(() => null);
    if (!answer || answer.status !== 200) {
      card.textContent = "LiveFeed: " + ((answer && answer.error) || "could not be reached.");
      return;
    }
    render(card, answer.body);
  }

  gmail.onChange(decorate);
})();
