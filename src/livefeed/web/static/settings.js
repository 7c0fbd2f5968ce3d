// The settings page: every form talks to the JSON API (the signed-in session), and shows the
// server's own words when something is refused. Text only, never HTML from data.
"use strict";
(function () {
  const api = window.LiveFeed.api;  // static/api.js

  function say(box, text, bad) {
    box.textContent = text;
    box.hidden = false;
    box.classList.toggle("error", !!bad);
    box.classList.toggle("notice", !bad);
  }

  // Times in the rep's own zone (their setting), not the browser's.
  function when(iso) { return iso ? new Date(iso).toLocaleString([], { timeZone: document.body.dataset.timezone }) : "never"; }

  async function busy(button, work) {
    button.disabled = true;
    try { await work(); } finally { button.disabled = false; }
  }

  // --- the rep's mail accounts: IMAP for replies, SMTP for sending --------------------------------
  // One pattern for both: test (the server's own answer), save (checked by signing in), show the
  // stored account (never the password: saving again without one keeps it, but only for the same
  // server, port, security and username — the server refuses to send it anywhere else), disconnect.
  const BOUND = ["host", "port", "security", "username"];
  function accountForm(name, { url, fields, describe, saved, removed }) {
    const form = document.querySelector("[data-form=" + name + "]");
    const state = document.querySelector("#" + name + " [data-state]");
    const result = form.querySelector(".result");
    let stored = null;
    function passwordNeeded() {
      const f = form.elements;
      const moved = stored && BOUND.some((k) => String(f[k].value).trim().toLowerCase() !== String(stored[k]).toLowerCase());
      f.password.required = !stored || moved;
      f.password.placeholder = !stored ? "" : moved ? "Required: the server or user name changed" : "•••••••• (stored; type to change)";
    }
    for (const k of BOUND) form.elements[k].addEventListener("input", passwordNeeded);
    for (const k of BOUND) form.elements[k].addEventListener("change", passwordNeeded);
    function body() {
      const f = form.elements, out = {};
      for (const field of fields) out[field] = f[field].type === "number" ? Number(f[field].value) : f[field].value.trim();
      out.password = f.password.value || null;
      return out;
    }
    function show(account) {
      state.hidden = !account;
      form.querySelector("[data-action=remove]").hidden = !account;
      stored = account;
      if (account) {
        state.textContent = describe(account);
        for (const field of fields) form.elements[field].value = account[field];
      }
      passwordNeeded();
    }
    form.querySelector("[data-action=test]").addEventListener("click", (e) => busy(e.target, async () => {
      try { say(result, (await api("POST", url + "/test", body())).message); }
      catch (err) { say(result, err.message, true); }
    }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(form.querySelector("[type=submit]"), async () => {
        try { show(await api("PUT", url, body())); form.elements.password.value = ""; say(result, saved); }
        catch (err) { say(result, err.message, true); }
      });
    });
    form.querySelector("[data-action=remove]").addEventListener("click", (e) => busy(e.target, async () => {
      await api("DELETE", url);
      form.reset();
      show(null);
      say(result, removed);
    }));
    return show;
  }

  const showMailbox = accountForm("mailbox", {
    url: "/api/v1/mailbox", fields: ["host", "port", "security", "username", "folder"],
    describe: (box) => "Connected: " + box.username + " on " + box.host + " · " +
      ({ idle: "watching (IDLE)", polling: "checking every minute", connecting: "connecting…", error: "error: " + box.error }[box.status] || box.status) +
      " · last checked " + when(box.checked_at),
    saved: "Saved: replies to your emails will appear in the Live Feed.",
    removed: "Disconnected; the password is deleted.",
  });
  const showSmtp = accountForm("smtp", {
    url: "/api/v1/smtp", fields: ["host", "port", "security", "username"],
    describe: (account) => "Sending as you through " + account.username + " on " + account.host + ":" + account.port,
    saved: "Saved: your email now goes out through this account.",
    removed: "Removed; the password is deleted. Email goes out through the server's account again.",
  });

  // --- workspace: website and the Marketo webhook ------------------------------------------------
  const website = document.querySelector("[data-form=website]");   // admins only (absent for reps)
  function showWorkspace(ws) {
    if (!website) return;
    website.elements.site_origins.value = ws.site_origins.join("\n");
    website.elements.anonymize_ips.checked = ws.anonymize_ips;
    website.elements.honour_dnt.checked = ws.honour_dnt;
    never.elements.do_not_track.value = ws.do_not_track.join("\n");
    domains.elements.signin_domains.value = ws.signin_domains.join("\n");
    target.elements.tier_method.value = ws.tier_method;
    target.elements.star_thresholds.value = ws.star_thresholds || "";
    target.elements.flame_thresholds.value = ws.flame_thresholds || "";
    target.elements.engagement_ranking.checked = ws.engagement_ranking;
    document.querySelector("[data-snippet]").value = ws.website_script;
    tracking.elements.tracking_url.value = ws.tracking_url || "";
    document.querySelector("[data-tracking-state]").textContent = "Links go to " + ws.tracking_links +
      (ws.tracking_url ? " (your hostname)." : " (this server's address).");
    document.querySelector("[data-hook-url]").value = ws.marketo_webhook.url;
    document.querySelector("[data-hook-state]").textContent = ws.marketo_webhook.secret_set
      ? "A secret is set (make a new one to see a secret again; the old one stops working)." : "No secret yet: the webhook answers 401.";
  }
  if (website) website.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(website.querySelector("[type=submit]"), async () => {
      const origins = website.elements.site_origins.value.split(/\s+/).filter(Boolean);
      try {
        showWorkspace(await api("PATCH", "/api/v1/workspace", { site_origins: origins, anonymize_ips: website.elements.anonymize_ips.checked,
                                                                 honour_dnt: website.elements.honour_dnt.checked }));
        say(website.querySelector(".result"), "Saved.");
      } catch (err) { say(website.querySelector(".result"), err.message, true); }
    });
  });
  const tracking = document.querySelector("[data-form=tracking]");
  if (tracking) {
    const url = () => tracking.elements.tracking_url.value.trim();
    tracking.querySelector("[data-action=test]").addEventListener("click", (e) => busy(e.target, async () => {
      try { say(tracking.querySelector(".result"), (await api("POST", "/api/v1/workspace/tracking-url/test", { tracking_url: url() })).message); }
      catch (err) { say(tracking.querySelector(".result"), err.message, true); }
    }));
    tracking.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(tracking.querySelector("[type=submit]"), async () => {
        try { showWorkspace(await api("PATCH", "/api/v1/workspace", { tracking_url: url() || null })); say(tracking.querySelector(".result"), "Saved: new email uses it (sent email keeps its links)."); }
        catch (err) { say(tracking.querySelector(".result"), err.message, true); }
      });
    });
  }
  const target = document.querySelector("[data-form=target]");
  if (target) target.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(target.querySelector("[type=submit]"), async () => {
      const f = target.elements;
      const body = { tier_method: f.tier_method.value, engagement_ranking: f.engagement_ranking.checked };
      if (f.tier_method.value === "fixed") {
        body.star_thresholds = f.star_thresholds.value.trim() || null;
        body.flame_thresholds = f.flame_thresholds.value.trim() || null;
      }
      try { showWorkspace(await api("PATCH", "/api/v1/workspace", body)); say(target.querySelector(".result"), "Saved: the Target list uses it now."); }
      catch (err) { say(target.querySelector(".result"), err.message, true); }
    });
  });
  const domains = document.querySelector("[data-form=domains]");
  if (domains) domains.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(domains.querySelector("[type=submit]"), async () => {
      const entries = domains.elements.signin_domains.value.split(/\s+/).filter(Boolean);
      try { showWorkspace(await api("PATCH", "/api/v1/workspace", { signin_domains: entries })); say(domains.querySelector(".result"), "Saved."); }
      catch (err) { say(domains.querySelector(".result"), err.message, true); }
    });
  });
  const never = document.querySelector("[data-form=never]");
  if (never) never.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(never.querySelector("[type=submit]"), async () => {
      const entries = never.elements.do_not_track.value.split(/\s+/).filter(Boolean);
      try { showWorkspace(await api("PATCH", "/api/v1/workspace", { do_not_track: entries })); say(never.querySelector(".result"), "Saved."); }
      catch (err) { say(never.querySelector(".result"), err.message, true); }
    });
  });
  const hookBox = document.getElementById("marketo-hook");
  if (hookBox) hookBox.querySelector("[data-action=hook-secret]").addEventListener("click", (e) => busy(e.target, async () => {
    const made = await api("POST", "/api/v1/workspace/marketo-webhook-secret");
    say(hookBox.querySelector(".result"), "New secret (shown once, copy it now): " + made.secret);
    document.querySelector("[data-hook-state]").textContent = "A secret is set.";
  }));

  // --- connectors --------------------------------------------------------------------------------
  function showConnector(form, connector) {
    const section = form.closest("section");
    const state = section.querySelector("[data-state]");
    for (const action of ["test", "sync", "remove"]) form.querySelector("[data-action=" + action + "]").hidden = !connector;
    state.hidden = !connector;
    if (!connector) return;
    state.textContent = "Connected to " + connector.base_url + " · last sync " + when(connector.synced_at) + " · " +
      (connector.status === "error" ? "error: " + connector.error : connector.status) +
      (connector.status !== "error" && connector.error ? " (" + connector.error + ")" : "");
    form.elements.base_url.value = connector.base_url;
    form.elements.client_id.value = connector.client_id;
    form.elements.interval_minutes.value = Math.round(connector.interval_seconds / 60);
    for (const name of ["client_secret", "refresh_token"]) {
      if (form.elements[name]) { form.elements[name].placeholder = "•••••••• (stored; type to change)"; }
    }
  }
  for (const form of document.querySelectorAll("[data-form=connector]")) {
    const kind = form.dataset.kind, result = form.querySelector(".result");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(form.querySelector("[type=submit]"), async () => {
        const f = form.elements;
        const body = { base_url: f.base_url.value.trim(), client_id: f.client_id.value.trim(), client_secret: f.client_secret.value,
                       interval_seconds: Number(f.interval_minutes.value) * 60 };
        if (f.refresh_token) body.refresh_token = f.refresh_token.value;
        try { showConnector(form, await api("PUT", "/api/v1/connectors/" + kind, body)); say(result, "Saved: the credentials work."); }
        catch (err) { say(result, err.message, true); }
      });
    });
    form.querySelector("[data-action=test]").addEventListener("click", (e) => busy(e.target, async () => {
      try { say(result, (await api("POST", "/api/v1/connectors/" + kind + "/test")).message); }
      catch (err) { say(result, err.message, true); }
    }));
    form.querySelector("[data-action=sync]").addEventListener("click", (e) => busy(e.target, async () => {
      try {
        const done = await api("POST", "/api/v1/connectors/" + kind + "/sync");
        say(result, "Synced: " + done.read + " read, " + done.recorded + " new rows, " + done.people + " people" + (done.stopped ? " — " + done.stopped : ""));
      } catch (err) { say(result, err.message, true); }
      await load();
    }));
    form.querySelector("[data-action=remove]").addEventListener("click", (e) => busy(e.target, async () => {
      await api("DELETE", "/api/v1/connectors/" + kind);
      form.reset();
      showConnector(form, null);
      say(result, "Disconnected; the credentials are deleted.");
    }));
  }

  // --- sessions and API tokens: listed, signed out / revoked, created (a token is shown once) ----
  const access = document.getElementById("access");
  function accessRow(text, action, onClick) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = text;
    item.append(label);
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = action;
      button.addEventListener("click", () => busy(button, onClick));
      item.append(button);
    }
    return item;
  }
  function browserName(ua) {
    if (!ua) return "A browser";
    const found = /(Edg|Firefox|Chrome|Safari)\/[\d.]+/.exec(ua);
    const os = /(Windows|Mac OS X|Android|iPhone|iPad|Linux)/.exec(ua);
    return (found ? found[1].replace("Edg", "Edge") : "A browser") + (os ? " on " + os[1].replace("Mac OS X", "macOS") : "");
  }
  async function loadAccess() {
    const [{ sessions }, { tokens }] = await Promise.all([api("GET", "/api/v1/sessions"), api("GET", "/api/v1/tokens")]);
    const me = Number(document.body.dataset.userId);
    access.querySelector("[data-list=sessions]").replaceChildren(...sessions.map((s) => accessRow(
      (s.current ? "This browser" : browserName(s.user_agent)) + (s.ip ? " · " + s.ip : "") + " · signed in " + when(s.created_at),
      s.current ? null : "Sign out", async () => { await api("DELETE", "/api/v1/sessions/" + s.id); await loadAccess(); })));
    const list = access.querySelector("[data-list=tokens]");
    list.replaceChildren(...tokens.map((t) => accessRow(
      (t.name || "Unnamed token") + (t.user_id !== me ? " (" + t.email + ")" : "") + " · created " + when(t.created_at) +
      " · " + (t.expires_at ? "expires " + when(t.expires_at) : "never expires"),
      "Revoke", async () => { await api("DELETE", "/api/v1/tokens/" + t.id); await loadAccess(); })));
    if (!tokens.length) list.replaceChildren(accessRow("No API tokens.", null));
  }
  const tokenForm = access.querySelector("[data-form=token]");
  tokenForm.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(tokenForm.querySelector("[type=submit]"), async () => {
      const f = tokenForm.elements, result = tokenForm.querySelector(".result");
      try {
        const made = await api("POST", "/api/v1/tokens", { name: f.name.value.trim(),
          expires_in_days: f.expires_in_days.value ? Number(f.expires_in_days.value) : null });
        say(result, "New token (shown once, copy it now): " + made.token);
        f.name.value = "";
        await loadAccess();
      } catch (err) { say(result, err.message, true); }
    });
  });

  // --- the rep's Google or Microsoft account, connected by signing in -----------------------------
  const connection = document.getElementById("mail-connection");
  const PROVIDER_NAMES = { google: "Google", microsoft: "Microsoft 365" };
  function showConnection(found) {
    if (!connection) return;
    const state = connection.querySelector("[data-state]");
    state.hidden = !found;
    connection.querySelector("[data-action=disconnect]").hidden = !found;
    connection.querySelector("[data-connect]").hidden = !!found && found.status === "connected";
    if (found) {
      state.textContent = "Connected: " + found.address + " (" + PROVIDER_NAMES[found.provider] + ")" +
        (found.status === "reconnect" ? " · reconnect needed: " + (found.error || "the provider no longer accepts it") : "") +
        " · last used " + when(found.checked_at);
    }
  }
  if (connection) connection.querySelector("[data-action=disconnect]").addEventListener("click", (e) => busy(e.target, async () => {
    const result = connection.querySelector(".result");
    try { say(result, (await api("DELETE", "/api/v1/mail-connection")).message); showConnection(null); }
    catch (err) { say(result, err.message, true); }
  }));

  // Only what exists is asked for (the page says which): an account not set up is no error.
  const stored = (id) => { const el = document.getElementById(id); return !!el && el.dataset.stored === "yes"; };
  const ifStored = (id, url) => stored(id) ? api("GET", url).catch(() => null) : null;

  async function load() {
    loadAccess();
    if (connection) showConnection(await ifStored("mail-connection", "/api/v1/mail-connection"));
    const admin = !!website;
    const [box, smtp, ws, listed] = await Promise.all([
      ifStored("mailbox", "/api/v1/mailbox"), ifStored("smtp", "/api/v1/smtp"),
      admin ? api("GET", "/api/v1/workspace") : null, admin ? api("GET", "/api/v1/connectors") : { connectors: [] }]);
    showMailbox(box);
    showSmtp(smtp);
    if (ws) showWorkspace(ws);
    for (const form of document.querySelectorAll("[data-form=connector]")) {
      showConnector(form, listed.connectors.find((c) => c.kind === form.dataset.kind) || null);
    }
  }
  load();
})();
