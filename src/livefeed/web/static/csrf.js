// Every same-origin request of these pages that changes something carries the page's CSRF token:
// the API refuses a cookie-authenticated POST, PUT, PATCH or DELETE without it (and from another
// origin), so another site cannot act with the rep's session. Loaded first, before any fetch.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) return;
  const token = meta.content;
  const original = window.fetch.bind(window);
  window.fetch = function (input, init) {
    init = init || {};
    const request = input instanceof Request ? input : null;
    const method = String(init.method || (request ? request.method : "GET")).toUpperCase();
    const url = new URL(request ? request.url : String(input), location.href);
    if (url.origin === location.origin && !["GET", "HEAD", "OPTIONS"].includes(method)) {
      const headers = new Headers(init.headers || (request ? request.headers : undefined));
      headers.set("x-csrf-token", token);
      init = Object.assign({}, init, { headers });
    }
    return original(input, init);
  };
})();
