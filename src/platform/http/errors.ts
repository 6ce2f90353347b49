// One error shape for every error: { error, message, status: "error", ...details }, with an HTTP
// status per code. `status: "error"` is what the replaced service's clients look for (it answered
// every failure that way); `error` is the code our clients look for.
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  sync_in_progress: 409,
  sync_rejected: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  invalid_request: 422,
  internal_error: 500,
  sync_failed: 503,
  index_unavailable: 503,
  not_ready: 503,
  service_unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
  toJSON(): Record<string, unknown> {
    return errorBody(this.code, this.message, this.details);
  }
}

/** The body of every error answer; `details` may replace `status` where the replaced service answered another value. */
function errorBody(code: ErrorCode, message: string, details: Record<string, unknown> = {}): Record<string, unknown> {
  return { error: code, message, status: "error", ...details };
}

export function errorResponse(code: ErrorCode, message: string, details: Record<string, unknown> = {}, headers?: Record<string, string>): Response {
  return Response.json(errorBody(code, message, details), { status: ERROR_STATUS[code], headers });
}
