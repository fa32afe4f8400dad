// Starts Swagger UI on /docs. Its settings arrive as JSON in the page, so the page needs no
// inline script and its Content-Security-Policy can allow scripts from this origin only.
"use strict";
(function () {
  const settings = JSON.parse(document.getElementById("swagger-ui-settings").textContent);
  window.ui = SwaggerUIBundle({
    ...settings.parameters,
    url: settings.openapiUrl,
    oauth2RedirectUrl: window.location.origin + settings.oauth2RedirectUrl,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
