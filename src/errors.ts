/**
 * Typed, coded errors. Every layer throws these; the API turns them into the one error envelope
 * `{code, message, fieldErrors[]}` with the matching HTTP status.
 */
export type ErrorCode =
  | 'BAD_REQUEST' // 400: malformed request (bad JSON, bad query)
  | 'UNAUTHORIZED' // 401: no or bad credentials
  | 'FORBIDDEN' // 403: credentials lack the right
  | 'NOT_FOUND' // 404
  | 'CONFLICT' // 409: unique field taken, object in use, version mismatch, already exists
  | 'UNSUPPORTED_MEDIA_TYPE' // 415
  | 'VALIDATION' // 422: schema-valid JSON whose content is invalid (bad MAC, missing required params ...)
  | 'TOO_MANY_REQUESTS' // 429: password auth rate limit
  | 'RENDER' // template failed to render (500 on boot files, 422 on API render)
  | 'UNAVAILABLE' // 503: a dependency (store, disk) is not usable right now
  | 'INTERNAL'; // 500

export const statusOf: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION: 422,
  TOO_MANY_REQUESTS: 429,
  RENDER: 500,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export interface FieldError {
  /** JSON-pointer-like path of the field, e.g. `/macs/0` or `params.rack`. */
  field: string;
  message: string;
}

export class FarrierError extends Error {
  readonly code: ErrorCode;
  readonly fieldErrors: FieldError[];
  /** Extra machine-readable detail (e.g. the keys of objects that block a delete). */
  readonly detail?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, fieldErrors: FieldError[] = [], detail?: Record<string, unknown>) {
    super(message);
    this.name = 'FarrierError';
    this.code = code;
    this.fieldErrors = fieldErrors;
    this.detail = detail;
  }

  get status(): number {
    return statusOf[this.code];
  }
}

export const notFound = (kind: string, key: string): FarrierError =>
  new FarrierError('NOT_FOUND', `${kind} ${JSON.stringify(key)} not found`);

export const conflict = (message: string, detail?: Record<string, unknown>): FarrierError =>
  new FarrierError('CONFLICT', message, [], detail);

export const invalid = (message: string, fieldErrors: FieldError[] = []): FarrierError =>
  new FarrierError('VALIDATION', message, fieldErrors);
