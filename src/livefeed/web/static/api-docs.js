// The browsable API reference (/api/v1/docs): Swagger UI, vendored (static/vendor, pinned), so the
// page works with no internet access and under the pages' Content-Security-Policy (no inline script).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
                           presets: [window.SwaggerUIBundle.presets.apis], layout: "BaseLayout" });
});
