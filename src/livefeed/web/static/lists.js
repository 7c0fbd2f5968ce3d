// The Live Feed window's Tasks and Target tabs. Data come from the JSON API; rows are built with
// textContent only. live.js announces (re)connects and "changed" frames; both lists reload then.
"use strict";
(function () {
  const TYPE_LABELS = { call: "Call", email: "Email", linkedin: "LinkedIn", custom: "To-do" };
  const taskTemplate = document.getElementById("task-template");
  const targetTemplate = document.getElementById("target-template");
  const form = document.getElementById("task-form");
  const formError = form.querySelector(".form-error");
  const peopleOptions = document.getElementById("people-options");
  const known = new Map();   // email -> person id, from the people search
  // "Today" in the rep's zone: from the page at once, then from every tasks load (a window left
  // open overnight moves on).
  let due = "today", today = document.getElementById("tab-tasks").dataset.today || null;

  const api = window.LiveFeed.api;  // static/api.js

  // One reload at a time per list; a request during a reload runs once more after it.
  function serial(load) {
    let running = null, again = false;
    return async function run() {
      if (running) { again = true; return running; }
      running = (async () => {
        do { again = false; try { await load(); } catch (err) { console.warn(err); } } while (again);
      })();
      try { await running; } finally { running = null; }
    };
  }

  function el(tag, props, text) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Call / Email / LinkedIn: a link when the person has that detail, else a disabled button
  // whose tooltip says what is missing.
  function quickActions(person) {
    const who = person ? (person.name || person.email) : null;
    const items = [
      ["call", "Call", person && person.tel_url, person ? "No phone number for " + who : "No person on this task", person && "Call " + person.phone],
      ["email", "Email", person && person.email && "/app?to=" + encodeURIComponent(person.email), "No person on this task", person && "Write to " + person.email],
      ["linkedin", "LinkedIn", person && person.linkedin_url, person ? "No LinkedIn profile for " + who : "No person on this task", person && "Open " + who + " on LinkedIn"],
    ];
    const box = el("div", { className: "actions" });
    for (const [kind, label, href, missing, title] of items) {
      if (href) {
        const link = el("a", { className: "qa qa-" + kind, href, title }, label);
        if (kind !== "call") { link.target = "_blank"; link.rel = "noopener noreferrer"; }
        box.append(link);
      } else {
        const button = el("button", { className: "qa qa-" + kind, type: "button", disabled: true, title: missing }, label);
        button.setAttribute("aria-label", label + " (" + missing + ")");
        box.append(button);
      }
    }
    return box;
  }

  window.livefeedQuickActions = quickActions;  // the feed rows' down-arrow menu uses them too

  function dueText(task) {
    const day = task.due_date === today ? "Today" : task.due_date;
    return task.due_time ? day + " " + task.due_time : day;
  }

  function taskRow(task) {
    const li = taskTemplate.content.firstElementChild.cloneNode(true);
    li.dataset.id = task.id;
    li.dataset.json = JSON.stringify(task);
    li.classList.toggle("overdue", task.overdue);
    li.querySelector(".type").textContent = TYPE_LABELS[task.type] || task.type;
    li.querySelector(".title").textContent = task.title;
    const priority = li.querySelector(".priority");
    priority.hidden = task.priority !== "high";
    priority.textContent = "High";
    const when = li.querySelector(".due");
    when.textContent = (task.overdue ? "Overdue · " : "") + dueText(task);
    when.dateTime = task.due_at || task.due_date;
    li.querySelector(".who").textContent = task.person ? (task.person.name || task.person.email) + (task.person.company ? " · " + task.person.company : "") : "";
    li.querySelector(".actions").replaceWith(quickActions(task.person));
    li.querySelector(".main").append(taskTools(li, task));
    const done = li.querySelector(".done");
    done.setAttribute("aria-label", "Complete “" + task.title + "”");
    done.addEventListener("change", async () => {
      done.disabled = true;
      try {
        await api("PATCH", "/api/v1/tasks/" + task.id, { status: "done" });
        li.remove();
        showEmpty();
      } catch (err) {
        done.checked = false;
        done.disabled = false;
        formError.hidden = false;
        formError.textContent = err.message;
      }
    });
    return li;
  }

  function dayAfter(iso) {
    const day = new Date(iso + "T00:00:00Z");
    day.setUTCDate(day.getUTCDate() + 1);
    return day.toISOString().slice(0, 10);
  }

  function toolButton(label, title, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.title = title;
    button.addEventListener("click", onClick);
    return button;
  }

  async function changeTask(task, fields) {
    try {
      await api("PATCH", "/api/v1/tasks/" + task.id, fields);
      formError.hidden = true;
      loadTasks();
      return true;
    } catch (err) {
      formError.hidden = false;
      formError.textContent = err.message;
      return false;
    }
  }

  // Snooze to tomorrow (the same time), or edit the title, day, time and priority in place.
  function taskTools(li, task) {
    const tools = document.createElement("div");
    tools.className = "task-tools";
    tools.append(
      toolButton("Tomorrow", "Move “" + task.title + "” to tomorrow, same time",
                 () => changeTask(task, { due_date: dayAfter(today && today > task.due_date ? today : task.due_date) })),
      toolButton("Edit", "Edit or reschedule “" + task.title + "”", () => openEditor(li, task)));
    return tools;
  }

  function openEditor(li, task) {
    const editor = document.createElement("form");
    editor.className = "task-edit";
    editor.setAttribute("aria-label", "Edit task");
    const field = (name, type, value, label) => {
      const input = document.createElement("input");
      input.name = name; input.type = type; input.value = value || ""; input.setAttribute("aria-label", label);
      return input;
    };
    const title = field("title", "text", task.title, "Title");
    title.required = true;
    const day = field("due_date", "date", task.due_date, "Due date");
    day.required = true;
    const time = field("due_time", "time", task.due_time, "Due time (optional)");
    const priority = document.createElement("select");
    priority.name = "priority";
    priority.setAttribute("aria-label", "Priority");
    for (const value of ["normal", "high", "low"]) priority.append(new Option(value[0].toUpperCase() + value.slice(1), value, false, value === task.priority));
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save";
    const cancel = toolButton("Cancel", "Keep the task as it is", () => { editor.remove(); li.querySelector(".main").hidden = false; });
    editor.append(title, day, time, priority, save, cancel);
    editor.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      const ok = await changeTask(task, { title: title.value.trim(), due_date: day.value, due_time: time.value || null,
                                          priority: priority.value });
      if (!ok) save.disabled = false;
    });
    li.querySelector(".main").hidden = true;
    li.append(editor);
    title.focus();
  }

  function showEmpty() {
    const overdue = document.getElementById("overdue-list");
    const list = document.getElementById("task-list");
    document.getElementById("overdue-head").hidden = !overdue.children.length;
    document.getElementById("tasks-empty").hidden = Boolean(list.children.length || overdue.children.length);
  }

  // A reload keeps the rows whose task did not change (the same elements): a click that lands
  // while a reload arrives is not lost to a replaced checkbox.
  function keyed(list, items) {
    const old = new Map([...list.children].map((li) => [li.dataset.id, li]));
    list.replaceChildren(...items.map((task) => {
      const same = old.get(String(task.id));
      return same && same.dataset.json === JSON.stringify(task) ? same : taskRow(task);
    }));
  }

  const loadTasks = serial(async () => {
    const [listed, overdue] = await Promise.all([
      api("GET", "/api/v1/tasks?status=open&due=" + due),
      api("GET", "/api/v1/tasks?status=open&overdue=true"),
    ]);
    today = listed.today;
    if (!form.due_date.value) form.due_date.value = today;
    const first = listed.window.from;
    // Overdue tasks from before the window get their own group; those inside it stay in place.
    keyed(document.getElementById("overdue-list"), overdue.tasks.filter((t) => t.due_date < first));
    keyed(document.getElementById("task-list"), listed.tasks);
    showEmpty();
  });

  // Stars: three slots, filled up to the count. Flames: one icon per flame, none when 0.
  function stars(count) {
    const span = el("span", { className: "stars", title: count + " of 3 stars: score among your workspace" },
      "★".repeat(count) + "☆".repeat(3 - count));
    span.setAttribute("role", "img");   // read as one label, not as the star characters
    span.setAttribute("aria-label", count + " of 3 stars");
    return span;
  }

  function flames(count) {
    const span = el("span", { className: "flames", title: count + " of 3 flames: how fast the score rose this week" });
    span.setAttribute("role", "img");
    span.setAttribute("aria-label", count + " of 3 flames");
    for (let i = 0; i < count; i++) {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
      use.setAttribute("href", "#icon-flame");
      svg.setAttribute("class", "flame");
      svg.setAttribute("aria-hidden", "true");
      svg.append(use);
      span.append(svg);
    }
    return span;
  }

  function targetRow(person) {
    const li = targetTemplate.content.firstElementChild.cloneNode(true);
    li.dataset.id = person.id;
    li.querySelector(".rank").textContent = person.rank;
    li.querySelector(".name").textContent = person.name || person.email;
    li.querySelector(".name").title = person.email;
    const score = li.querySelector(".score");
    score.textContent = person.score_source === "engagement" ? Math.round(person.score) + " engagement" : String(person.score);
    score.title = person.score_source === "engagement" ? "No lead score: LiveFeed's engagement score" : "Lead score (" + person.score_source + ")";
    li.querySelector(".company").textContent = [person.title, person.company].filter(Boolean).join(" · ");
    li.querySelector(".stars").replaceWith(stars(person.stars));
    li.querySelector(".flames").replaceWith(flames(person.flames));
    li.dataset.flames = person.flames;
    const reason = li.querySelector(".reason");
    reason.textContent = person.reasons.length ? person.reasons[0].text : "";
    reason.title = person.reasons.map((r) => r.text).join("\n");
    li.querySelector(".actions").replaceWith(quickActions(person));
    return li;
  }

  const loadTargets = serial(async () => {
    const data = await api("GET", "/api/v1/targets");
    document.getElementById("target-list").replaceChildren(...data.people.map(targetRow));
    document.getElementById("target-empty").hidden = data.people.length > 0;
  });

  for (const button of document.querySelectorAll("[data-due]")) {
    button.addEventListener("click", () => {
      due = button.dataset.due;
      for (const other of document.querySelectorAll("[data-due]")) {
        other.classList.toggle("active", other === button);
        other.setAttribute("aria-pressed", String(other === button));
      }
      loadTasks();
    });
  }

  let searchTimer = null;
  form.person.addEventListener("input", () => {
    form.person_id.value = known.get(form.person.value.trim().toLowerCase()) || "";
    clearTimeout(searchTimer);
    const q = form.person.value.trim();
    if (q.length < 2) return;
    searchTimer = setTimeout(async () => {
      const found = await api("GET", "/api/v1/people?limit=8&q=" + encodeURIComponent(q));
      peopleOptions.replaceChildren(...found.people.map((p) => {
        known.set(p.email, p.id);
        return el("option", { value: p.email, label: [p.name, p.company].filter(Boolean).join(" · ") || p.email });
      }));
      form.person_id.value = known.get(form.person.value.trim().toLowerCase()) || "";
    }, 200);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.hidden = true;
    const body = { type: form.type.value, title: form.title.value, due_date: form.due_date.value, priority: form.priority.value };
    if (form.due_time.value) body.due_time = form.due_time.value;
    const typed = form.person.value.trim().toLowerCase();
    if (typed) {
      let id = form.person_id.value || known.get(typed);
      if (!id) {
        const found = await api("GET", "/api/v1/people?limit=1&q=" + encodeURIComponent(typed));
        id = found.people.length && found.people[0].email === typed ? found.people[0].id : null;
      }
      if (!id) {
        formError.hidden = false;
        formError.textContent = "No person with the email " + typed + ".";
        return;
      }
      body.person_id = Number(id);
    }
    try {
      await api("POST", "/api/v1/tasks", body);
      form.title.value = "";
      form.due_time.value = "";
      form.person.value = "";
      form.person_id.value = "";
      loadTasks();
    } catch (err) {
      formError.hidden = false;
      formError.textContent = err.message;
    }
  });

  // "+ Task" on an engagement row: a follow-up email task, due today, for that person.
  document.addEventListener("livefeed:new-task", (e) => {
    const ev = e.detail;
    document.dispatchEvent(new CustomEvent("livefeed:show-tab", { detail: { tab: "tasks" } }));
    form.type.value = "email";
    form.title.value = "Follow up with " + (ev.person.name || ev.person.email) + (ev.email ? " on “" + ev.email.subject + "”" : "");
    form.due_date.value = today || form.due_date.value;
    form.person.value = ev.person.email;
    form.person_id.value = ev.person.id;
    known.set(ev.person.email, ev.person.id);
    form.title.focus();
  });

  document.addEventListener("livefeed:changed", (e) => {
    if (e.detail.what === "tasks") loadTasks();
    if (e.detail.what === "targets") loadTargets();
  });
})();
