// The interactive API documentation (/api/docs): Swagger UI from static/vendor, started here
// because the pages' Content-Security-Policy allows no inline script. Nothing is loaded from
// outside the installation: the public spec validator is switched off.
const root = document.getElementById("swagger-ui");
const SwaggerUIBundle = window.SwaggerUIBundle;

window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  layout: "BaseLayout",
  deepLinking: true,
  // ~135 operations: tags start folded (one click opens one), so the page stays light.
  docExpansion: "none",
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
