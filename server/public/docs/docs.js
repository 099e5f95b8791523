/* global SwaggerUIBundle */
// Swagger UI over Agora's OpenAPI document. validatorUrl: null keeps the page from calling
// swagger.io's online validator: the page needs nothing but this server.
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: true,
  tryItOutEnabled: true,
});
