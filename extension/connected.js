// Where the server's connect page returns: the one-time code (checked against the state this
// extension started with) is traded, with the PKCE verifier, for the extension's own API token.
"use strict";
(async function () {
  const result = document.getElementById("result");
  const say = (text, ok) => { result.textContent = text; result.className = ok ? "ok" : "bad"; };
  const params = new URLSearchParams(location.search);
  const { pending } = await chrome.storage.session.get("pending");
  await chrome.storage.session.remove("pending");
  if (!pending || params.get("state") !== pending.state) {
    say("This answer does not match a connection this extension started. Start again from its options.", false);
    return;
  }
  if (params.get("error")) {
    say("Not connected: you cancelled on LiveFeed's page.", false);
    return;
  }
  try {
    const response = await fetch(pending.server + "/api/v1/extension/token", {
      method: "POST", credentials: "omit", headers: { "content-type": "application/json" },
      body: JSON.stringify({ code: params.get("code"), code_verifier: pending.verifier, return_to: location.origin + location.pathname }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail && answer.detail[0] ? answer.detail[0].msg : "answered " + response.status);
    await chrome.storage.local.set({ token: answer.token, user: answer.user });
    await chrome.runtime.sendMessage({ type: "connected" });
    say("Connected as " + answer.user.email + ". You can close this tab: mail you send from Gmail is tracked.", true);
    history.replaceState(null, "", location.pathname);    // the code is spent; keep it out of history
  } catch (err) {
    say("Not connected: " + (err.message || err) + ". Start again from the extension's options.", false);
  }
})();
