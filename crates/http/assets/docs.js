// Starts the API reference on /docs from ordo's own OpenAPI document. A file of its own (not
// an inline script) so the page's Content-Security-Policy can allow scripts from ordo only.
Scalar.createApiReference('#reference', {
  url: '/openapi.json',
  // Scalar's default fonts come from its CDN; the page uses the system's instead.
  withDefaultFonts: false,
  telemetry: false,
});
