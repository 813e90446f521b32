// Starts Swagger UI on the hub's own OpenAPI document (no inline script: the page's CSP).
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 1,
    tryItOutEnabled: false,
    supportedSubmitMethods: [],
  });
});
