/**
 * One error envelope for every failure: `{code, message, fieldErrors[], detail?}` with the matching status.
 * FarrierErrors map directly; fastify's own errors (bad JSON, unknown content type, body too large) are
 * translated; anything else is a 500 whose details stay in the log.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, FarrierError, statusOf } from '../errors.js';

export interface ErrorEnvelope {
  code: ErrorCode;
  message: string;
  fieldErrors: { field: string; message: string }[];
  detail?: Record<string, unknown>;
}

function fromFastify(err: FastifyError): { status: number; body: ErrorEnvelope } | undefined {
  const status = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE', message: `${err.message}; send application/json`, fieldErrors: [] } };
  }
  if (status >= 400 && status < 500) {
    const message = err instanceof SyntaxError || /JSON/.test(err.message) ? `malformed JSON body: ${err.message}` : err.message;
    return { status, body: { code: status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message, fieldErrors: [] } };
  }
  return undefined;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | FarrierError, req, reply) => {
    if (err instanceof FarrierError) {
      const body: ErrorEnvelope = { code: err.code, message: err.message, fieldErrors: err.fieldErrors };
      if (err.detail) body.detail = err.detail;
      if (err.code === 'UNAUTHORIZED') void reply.header('WWW-Authenticate', 'Basic realm="farrier", Bearer');
      if (err.code === 'TOO_MANY_REQUESTS' && typeof err.detail?.retryAfter === 'number') void reply.header('Retry-After', String(err.detail.retryAfter));
      if (err.status >= 500) req.log.error({ err }, 'request failed');
      return reply.code(err.status).send(body);
    }
    const mapped = fromFastify(err);
    if (mapped) return reply.code(mapped.status).send(mapped.body);
    req.log.error({ err }, 'unexpected error');
    return reply.code(statusOf.INTERNAL).send({ code: 'INTERNAL', message: 'internal error; see the daemon log', fieldErrors: [] } satisfies ErrorEnvelope);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}`, fieldErrors: [] } satisfies ErrorEnvelope);
  });
}

/**
 * Longest path parameter the router passes on (fastify's default, 100, refused a `name:<253-char name>`
 * key); a longer one is answered by frameworkErrors below.
 */
export const MAX_PARAM_LENGTH = 1024;

/**
 * Errors the router raises before any route runs (a URL that does not percent-decode, a path parameter
 * over MAX_PARAM_LENGTH): the same 400 envelope as every other malformed request, not fastify's own body.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters` : `malformed URL: ${err.message}`;
  void reply.code(400).send({ code: 'BAD_REQUEST', message, fieldErrors: [] } satisfies ErrorEnvelope);
}
