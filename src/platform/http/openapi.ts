// The OpenAPI side of the HTTP answers: the one error schema, and the `responses` a route declares
// in its `detail` (documented, not validated at runtime). src/app/openapi.ts assembles the document.
import { type TSchema, t } from "elysia";
import { ERROR_STATUS, type ErrorCode } from "./errors.ts";

export const ERROR_SCHEMA_NAME = "Error";

// For answer schemas: Elysia's t.Integer also takes numeric strings (it coerces request values), and t.Nullable adds the OpenAPI 3.0 `nullable`.
export const Integer = (options: { description?: string } = {}) => t.Unsafe<number>({ type: "integer", ...options });
export const Nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);

/** The body of every error answer (errors.ts); details vary by code and go alongside. */
export const ErrorBody = t.Object(
  {
    status: t.Union([t.Literal("error"), t.Literal("initializing")], {
      description: 'always "error", except from the startup probe, which answers "initializing" as the replaced service did',
    }),
    error: t.Unsafe<ErrorCode>({ type: "string", enum: Object.keys(ERROR_STATUS), description: "what went wrong, as a code" }),
    message: t.String({ description: "what went wrong, for people" }),
    field: t.Optional(t.String({ description: "the request field a 422 is about", examples: ["limit"] })),
    run_status: t.Optional(
      t.String({ description: "a run's outcome (skipped, rejected, failed) on 409 and 503 answers of run triggers; the run's result goes alongside" }),
    ),
  },
  { description: "An error answer: the same shape for every error of every operation" },
);

const json = (schema: TSchema | { $ref: string }) => ({ "application/json": { schema } });
const errorRef = { $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` };

interface DocResponse {
  description: string;
  content: Record<string, { schema: object }>;
}

interface Answer {
  description: string;
  schema: TSchema;
  /** Default application/json. */
  type?: string;
}

/**
 * A route's `detail.responses`: its answers by HTTP status, and the error codes it can answer
 * (grouped by their status, the codes named in the description, the body the error schema).
 */
export function responses(answers: Partial<Record<number, Answer>>, errors: readonly ErrorCode[] = []): Record<string, DocResponse> {
  const out: Record<string, DocResponse> = {};
  for (const [status, a] of Object.entries(answers))
    if (a) out[status] = { description: a.description, content: { [a.type ?? "application/json"]: { schema: a.schema } } };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errors) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  for (const [status, codes] of byStatus) out[status] = { description: `error: ${codes.join(" or ")}`, content: json(errorRef) };
  return out;
}
