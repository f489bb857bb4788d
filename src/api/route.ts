/**
 * Registers one API operation: the path, request validators and content types come from openapi.yaml;
 * every route authenticates and authorizes (unless public) before its body is validated and handled.
 */
import type { Ajv } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticate.js';
import type { Services } from '../core/services.js';
import type { Principal } from '../core/tokens.js';
import { FarrierError } from '../errors.js';
import { type OpenApiDoc, compileRequestValidators, fieldErrors, schemaError, toFastifyPath } from './spec.js';

export const API_BASE = '/api/v1';

export interface ApiRequest {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Media type of the body without parameters (e.g. `application/merge-patch+json`). */
  mediaType: string | undefined;
  principal: Principal | undefined;
  raw: FastifyRequest;
}

export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path under /api/v1 as written in openapi.yaml, e.g. `/machines/{key}`. */
  path: string;
  /** No authentication (GET /info). */
  public?: boolean;
  /** Machine tokens may call it for their own machine (`key` parameter) — see auth/access.ts. */
  machine?: boolean;
  /** Any authenticated user, whatever the role. */
  anyUser?: boolean;
  handler: (req: ApiRequest, reply: FastifyReply) => Promise<unknown>;
}

export interface ApiContext {
  app: FastifyInstance;
  services: Services;
  doc: OpenApiDoc;
  bodyAjv: Ajv;
  queryAjv: Ajv;
  auth: Authenticator;
}

/** Deeper JSON than this is refused before validation: recursive code (schema checks, merge patches, storing) must not run out of stack. */
export const MAX_BODY_DEPTH = 64;

const isJsonContainer = (v: unknown): v is object =>
  Array.isArray(v) || (typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v) as object | null));

/**
 * Nesting depth of a parsed JSON body, walked without recursion; stops counting past `limit`. Only arrays
 * and plain objects count (an upload's body is a stream, which is not JSON).
 */
export function jsonDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (!isJsonContainer(v)) continue;
    if (d + 1 > max) max = d + 1;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (isJsonContainer(child)) stack.push([child, d + 1]);
  }
  return max;
}

export const mediaTypeOf = (req: FastifyRequest): string | undefined => req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();

/** Path parameters by their spec names: a wildcard route's `*` is the spec's final `{path}` (see toFastifyPath). */
function specParams(req: FastifyRequest): Record<string, string> {
  const { '*': rest, ...named } = req.params as Record<string, string>;
  return rest === undefined ? named : { ...named, path: rest };
}

export function addRoute(ctx: ApiContext, def: RouteDef): void {
  const specPath = API_BASE + def.path;
  const v = compileRequestValidators(ctx.doc, ctx.bodyAjv, ctx.queryAjv, def.method, specPath);
  const principals = new WeakMap<FastifyRequest, Principal>();
  ctx.app.route({
    method: def.method,
    url: toFastifyPath(specPath),
    onRequest: async (req) => {
      if (def.public) return;
      principals.set(req, await ctx.auth.authorize(req, { path: def.path, method: def.method, machine: def.machine, anyUser: def.anyUser }));
    },
    preValidation: async (req) => {
      if (v.params && !v.params(specParams(req))) throw schemaError('BAD_REQUEST', `bad path parameter`, fieldErrors(v.params.errors));
      if (v.query && !v.query(req.query)) throw schemaError('BAD_REQUEST', `bad query`, fieldErrors(v.query.errors));
      const type = mediaTypeOf(req);
      if (req.body === undefined || req.body === null) {
        if (v.bodyRequired) throw new FarrierError('BAD_REQUEST', `a request body is required (${v.contentTypes.join(' or ')})`);
        return;
      }
      if (v.contentTypes.length === 0) return;
      if (jsonDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
        throw new FarrierError('BAD_REQUEST', `the request body is nested deeper than ${MAX_BODY_DEPTH} levels`, [{ field: '/', message: `nested deeper than ${MAX_BODY_DEPTH} levels` }]);
      }
      const validate = type ? v.body.get(type) : undefined;
      if (!validate) {
        throw new FarrierError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type ?? '(none)'} is not accepted by ${def.method} ${specPath}; use ${v.contentTypes.join(' or ')}`);
      }
      if (!validate(req.body)) throw schemaError('VALIDATION', `invalid request body`, fieldErrors(validate.errors));
    },
    handler: async (req, reply) => {
      const out = await def.handler(
        { params: specParams(req), query: req.query as Record<string, unknown>, body: req.body, mediaType: mediaTypeOf(req), principal: principals.get(req), raw: req },
        reply,
      );
      // A handler that returns the reply has sent it itself (a file stream still being written).
      if (reply.sent || out === reply) return reply;
      // Fastify sends a bare string as text/plain; every API answer is JSON (a param value may be a string).
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(out ?? null));
    },
  });
}

/** How a PATCH body is to be read, from its content type. */
export function patchKind(mediaType: string | undefined): 'merge' | 'json' | 'auto' {
  if (mediaType === 'application/merge-patch+json') return 'merge';
  if (mediaType === 'application/json-patch+json') return 'json';
  return 'auto';
}

export const bodyObject = (req: ApiRequest): Record<string, unknown> => (req.body ?? {}) as Record<string, unknown>;
