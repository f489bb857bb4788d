/**
 * A whole daemon (test/wiring's startWhole: real store, boot layer, TFTP, DHCP on loopback) and a raw HTTP
 * caller that sends exactly the credential it is given and checks every /api/v1 answer against openapi.yaml.
 */
import type { Test } from 'tap';
import { loadSpec } from '../../src/api/spec.js';
import type { Config } from '../../src/config.js';
import { ResponseChecker, basic, repoRoot } from '../api/harness.js';
import { ADMIN_PASSWORD, type Whole, startWhole } from '../wiring/helpers.js';

export { ADMIN_PASSWORD, basic };

export interface Sent {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** The full Authorization header value, or undefined for none. */
  auth?: string;
  body?: unknown;
  payload?: string | Buffer;
  contentType?: string;
}

export interface SecurityDaemon extends Whole {
  adminAuth: string;
  /** One request; an SSE answer is read up to its headers and then dropped. */
  send(method: string, path: string, opts?: CallOptions): Promise<Sent>;
  /** A Bearer header for `user` (logs in once with Basic). */
  userBearer(user: string, password: string): Promise<string>;
}

export async function startSecurityDaemon(t: Test, overrides: Partial<Config> = {}): Promise<SecurityDaemon> {
  const whole = await startWhole(t, overrides);
  const checker = new ResponseChecker(loadSpec(repoRoot).doc);
  const adminAuth = basic('admin', ADMIN_PASSWORD);
  const send = async (method: string, path: string, opts: CallOptions = {}): Promise<Sent> => {
    const headers: Record<string, string> = {};
    if (opts.auth !== undefined) headers.authorization = opts.auth;
    let payload: string | Buffer | undefined = opts.payload;
    if (opts.body !== undefined) payload = JSON.stringify(opts.body);
    if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const abort = new AbortController();
    const res = await fetch(`${whole.daemon.url}${path}`, { method, headers, body: payload === undefined ? undefined : new Uint8Array(Buffer.from(payload)), signal: abort.signal });
    let text = '';
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) abort.abort();
    else text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    if (path.startsWith('/api/v1/')) {
      for (const p of checker.check(method, path, res.status, res.headers.get('content-type') ?? undefined, body)) t.fail(`spec contract: ${p}`);
    }
    return { status: res.status, body, text, headers: res.headers };
  };
  const userBearer = async (user: string, password: string): Promise<string> => {
    const res = await send('POST', '/api/v1/tokens', { auth: basic(user, password) });
    if (res.status !== 201) throw new Error(`login of ${user} failed: ${res.status} ${res.text}`);
    return `Bearer ${(res.body as { token: string }).token}`;
  };
  return { ...whole, adminAuth, send, userBearer };
}
