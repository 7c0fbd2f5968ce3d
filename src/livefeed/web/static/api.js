// The pages' one way to call the JSON API with the signed-in session (csrf.js adds the CSRF
// header): JSON in and out; a refusal throws an Error carrying the server's own words, naming the
// field ("due_date: must be YYYY-MM-DD"). Text only: callers put messages in textContent.
"use strict";
window.LiveFeed = window.LiveFeed || {};
window.LiveFeed.api = async function api(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && data.detail;
    throw new Error(Array.isArray(detail) ? detail.map((d) => d.loc.slice(1).join(".") + ": " + d.msg).join("; ")
                                          : String(detail || response.status));
  }
  return data;
};
