/**
 * API test harness: a real app over a real (in-memory SQLite) store with the shipped content, and an
 * `api()` helper around fastify.inject that validates every response against openapi.yaml — its status
 * must be documented for the operation and its JSON body must match the documented schema.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { type Readable, Writable } from 'node:stream';
import { type OpenApiDoc, type LoadedSpec, createSpecAjv, loadSpec, rewriteRefs } from '../../src/api/spec.js';
import { type AppOptions, buildApp, createLogger } from '../../src/app.js';
import { loadRepoContent } from '../../src/core/content.js';
import { type Services, createServices } from '../../src/core/services.js';
import { EventBus } from '../../src/events/bus.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const PASSWORDS = { admin: 'admin-pass-1', operator: 'operator-pass-1', reader: 'reader-pass-1' } as const;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: unknown;
  text: string;
  /** The body's bytes. */
  raw: Buffer;
}

export interface CallOptions {
  body?: unknown;
  /** Raw body (sent as is): text, bytes or a stream. */
  payload?: string | Buffer | Readable;
  contentType?: string;
  /** `admin` (default), `operator`, `reader`, or `none` for no credentials. */
  as?: keyof typeof PASSWORDS | 'none';
  token?: string;
  headers?: Record<string, string>;
}

export interface Harness {
  app: FastifyInstance;
  services: Services;
  spec: LoadedSpec;
  /** Log lines the app wrote. */
  logs: string[];
  api(method: string, url: string, opts?: CallOptions): Promise<Reply>;
}

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The spec path template matching a concrete URL path (`/api/v1/machines/abc` → `/api/v1/machines/{key}`). */
export function matchSpecPath(doc: OpenApiDoc, method: string, path: string): string | undefined {
  const segs = path.split('/');
  const candidates = Object.keys(doc.paths).filter((p) => doc.paths[p]![method.toLowerCase()] !== undefined);
  // Prefer literal segments over templates (e.g. /machines/{key}/bootenv over /machines/{key}/params/{name}).
  const score = (p: string): number => p.split('/').filter((s) => !s.startsWith('{')).length;
  return candidates
    .filter((p) => {
      const ps = p.split('/');
      // A final `{path}` spans the remaining segments (see toFastifyPath).
      if (ps[ps.length - 1] === '{path}' && segs.length >= ps.length) return ps.slice(0, -1).every((s, i) => s.startsWith('{') || s === segs[i]);
      return ps.length === segs.length && ps.every((s, i) => s.startsWith('{') || s === segs[i]);
    })
    .sort((a, b) => score(b) - score(a))[0];
}

export class ResponseChecker {
  private readonly ajv: Ajv;
  constructor(private readonly doc: OpenApiDoc) {
    this.ajv = createSpecAjv(doc);
  }

  /** Problems with this response against the spec (empty when it conforms). */
  check(method: string, url: string, status: number, contentType: string | undefined, body: unknown): string[] {
    const path = url.split('?')[0]!;
    const specPath = matchSpecPath(this.doc, method, path);
    if (!specPath) return status === 404 ? [] : [`${method} ${path} is not in openapi.yaml`];
    const op = this.doc.paths[specPath]![method.toLowerCase()]!;
    let resp = op.responses[String(status)];
    if (!resp) return [`${method} ${specPath}: status ${status} is not documented`];
    if ('$ref' in resp) resp = this.doc.components.responses[resp.$ref.split('/').pop()!]!;
    const media = (resp as { content?: Record<string, { schema: Record<string, unknown> }> }).content;
    if (!media) return [];
    const type = contentType?.split(';')[0]?.trim();
    if (!type || !media[type]) return [`${method} ${specPath} ${status}: content type ${type} is not documented (${Object.keys(media).join(', ')})`];
    if (type !== 'application/json') return [];
    const validate = this.ajv.compile(rewriteRefs(media[type]!.schema));
    if (validate(body)) return [];
    return [`${method} ${specPath} ${status}: response does not match the spec: ${this.ajv.errorsText(validate.errors)} — ${JSON.stringify(body).slice(0, 300)}`];
  }
}

/** `extra` adds app options (e.g. `files` with a boot root for the upload routes). */
export async function makeHarness(t: Test, extra: Partial<AppOptions> = {}): Promise<Harness> {
  const store = await openSqliteStore(':memory:');
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const logger = createLogger({ level: 'info', format: 'json' }, sink);
  const content = await loadRepoContent(repoRoot);
  const services = await createServices(store, new EventBus(), logger, { content, tokenKey: randomBytes(32), tokenTtl: 3600, machineTokenTtl: 600 });
  await services.users.bootstrapAdmin(PASSWORDS.admin);
  await services.users.create({ name: 'operator', role: 'operator', password: PASSWORDS.operator });
  await services.users.create({ name: 'reader', role: 'readonly', password: PASSWORDS.reader });
  const spec = loadSpec(repoRoot);
  const app = await buildApp({
    ...extra,
    services,
    logger,
    spec,
    info: { version: 'test', startedAt: Date.now(), services: () => ({ http: { enabled: true, port: 0 }, dhcp: { enabled: false, port: 67 }, tftp: { enabled: false, port: 69 } }), loaders: () => ({}) },
  });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await store.close();
  });
  const checker = new ResponseChecker(spec.doc);
  // Every Basic login costs one scrypt verification (~50-150 ms); a few hundred calls per file made the API
  // tests take tens of seconds. So `as: role` logs in with Basic once (POST /api/v1/tokens) and then sends
  // that user's token, which the server checks against the same user record (role, revocation) on every
  // request. Basic auth itself is proven by auth.test.ts; if a role's token is refused (revoked) the call
  // is repeated with Basic, exactly as before.
  const roleTokens = new Map<keyof typeof PASSWORDS, string>();
  const roleToken = async (as: keyof typeof PASSWORDS): Promise<string | undefined> => {
    const known = roleTokens.get(as);
    if (known !== undefined) return known;
    const res = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { authorization: basic(as, PASSWORDS[as]) } });
    if (res.statusCode !== 201) return undefined;
    const token = (JSON.parse(res.body) as { token: string }).token;
    roleTokens.set(as, token);
    return token;
  };
  const api = async (method: string, url: string, opts: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...opts.headers };
    const as = opts.as ?? 'admin';
    let payload: string | Buffer | Readable | undefined = opts.payload;
    if (opts.body !== undefined) payload = JSON.stringify(opts.body);
    if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    // A stream payload cannot be sent twice, so it goes with Basic straight away.
    const replayable = typeof payload === 'string' || Buffer.isBuffer(payload) || payload === undefined;
    let res: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    else if (as !== 'none') {
      const token = replayable ? await roleToken(as) : undefined;
      if (token !== undefined) {
        res = await app.inject({ method: method as 'GET', url, headers: { ...headers, authorization: `Bearer ${token}` }, payload });
        if (res.statusCode === 401) {
          roleTokens.delete(as);
          res = undefined;
        }
      }
      headers.authorization = basic(as, PASSWORDS[as]);
    }
    res ??= await app.inject({ method: method as 'GET', url, headers, payload });
    let body: unknown = res.body;
    try {
      body = res.body === '' ? undefined : JSON.parse(res.body);
    } catch {
      // not JSON (SSE, YAML, HTML): keep the text
    }
    const problems = url.startsWith('/api/v1/') ? checker.check(method, url, res.statusCode, res.headers['content-type'] as string | undefined, body) : [];
    for (const p of problems) t.fail(`spec contract: ${p}`);
    return { status: res.statusCode, headers: res.headers, body, text: res.body, raw: res.rawPayload };
  };
  return { app, services, spec, logs, api };
}
