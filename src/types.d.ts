declare module "*.sql" {
  const text: string;
  export default text;
}

// Swagger UI's assets, imported as text (src/app/openapi.ts) and embedded in the binary.
declare module "swagger-ui-dist/swagger-ui.css" {
  const text: string;
  export default text;
}
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}
