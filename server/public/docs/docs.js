/* global SwaggerUIBundle */
// Swagger UI over Agora's OpenAPI document. validatorUrl: null keeps the page from calling
// swagger.io's online validator: the page needs nothing but this server. A token or API key
// pasted into "Authorize" stays in the page's memory only (persistAuthorization off): kept in
// localStorage it would outlive the tab, for anyone at this browser and any script on this origin.
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  tryItOutEnabled: true,
});
