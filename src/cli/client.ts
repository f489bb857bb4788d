/**
 * A small HTTP client for the Farrier REST API (/api/v1), built on Node's global fetch. It knows about
 * credentials, the error envelope and connection failures; it knows nothing about commands or output.
 */
import { ApiError, ConnectionError, UsageError, type ApiFieldError } from './failures.js';
import { fetchWithCa } from './tlsFetch.js';

export interface Credentials {
  user?: string;
  password?: string;
  token?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Defaults to application/json when a body is given. */
  contentType?: string;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ServerSentEvent {
  event: string;
  data: string;
}

export class FarrierClient {
  readonly endpoint: string;
  private readonly base: URL;

  constructor(
    endpoint: string,
    private readonly credentials: Credentials = {},
    /** PEM CA certificate(s) to trust for an https:// endpoint (`--ca-cert`), besides the system store. */
    private readonly ca?: Buffer,
  ) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`invalid endpoint ${JSON.stringify(endpoint)}: expected a URL such as http://127.0.0.1:8091`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`invalid endpoint ${JSON.stringify(endpoint)}: only http:// and https:// are supported`);
    }
    this.endpoint = endpoint;
    this.base = url;
  }

  /** Builds the URL of an API path such as `machines/name:web1`; segments must already be encoded. */
  url(path: string, query: Query = {}): URL {
    const prefix = this.base.pathname.replace(/\/+$/, '');
    const url = new URL(`${prefix}/api/v1/${path.replace(/^\/+/, '')}`, this.base);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.append(k, String(v));
    }
    return url;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeader() };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await this.fetch(this.url(path, opts.query), { method, headers, body });
    const text = await res.text();
    const parsed = parseBody(text, res.headers.get('content-type'));
    if (!res.ok) throw toApiError(res.status, parsed, method, path);
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  /**
   * A request whose body and answer are byte streams (file and ISO uploads, downloads), never buffered.
   * Errors are thrown as for `request`; the caller reads the returned response's body.
   */
  async stream(method: string, path: string, opts: { query?: Query; body?: ReadableStream<Uint8Array>; contentType?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.authHeader() };
    if (opts.contentType) headers['content-type'] = opts.contentType;
    // undici requires `duplex: 'half'` for a streamed request body; lib.dom's RequestInit does not know it yet.
    const init: RequestInit & { duplex?: 'half' } = { method, headers, body: opts.body, duplex: opts.body ? 'half' : undefined };
    const res = await this.fetch(this.url(path, opts.query), init);
    if (!res.ok) {
      const text = await res.text();
      throw toApiError(res.status, parseBody(text, res.headers.get('content-type')), method, path);
    }
    return res;
  }

  get<T = unknown>(path: string, query?: Query): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, { query });
  }

  /**
   * Follows a Server-Sent Events stream until it ends or `signal` aborts, yielding each event.
   * Comments (keep-alives) are skipped.
   */
  async *events(path: string, query: Query = {}, signal?: AbortSignal): AsyncGenerator<ServerSentEvent> {
    const headers = { accept: 'text/event-stream', ...this.authHeader() };
    const res = await this.fetch(this.url(path, query), { method: 'GET', headers, signal });
    if (!res.ok) {
      const text = await res.text();
      throw toApiError(res.status, parseBody(text, res.headers.get('content-type')), 'GET', path);
    }
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
          const ev = parseEventBlock(block);
          if (ev) yield ev;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  }

  private authHeader(): Record<string, string> {
    const { user, password, token } = this.credentials;
    if (token) return { authorization: `Bearer ${token}` };
    if (user !== undefined && user !== '') {
      const basic = Buffer.from(`${user}:${password ?? ''}`).toString('base64');
      return { authorization: `Basic ${basic}` };
    }
    return {};
  }

  private async fetch(url: URL, init: RequestInit): Promise<Response> {
    try {
      return await (this.ca && url.protocol === 'https:' ? fetchWithCa(url, init, this.ca) : fetch(url, init));
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw this.connectionError(err);
    }
  }

  private connectionError(err: unknown): ConnectionError {
    const code = errorCode(err);
    if (code === 'ECONNREFUSED') {
      return new ConnectionError(
        `cannot connect to the Farrier daemon at ${this.endpoint} (connection refused). ` +
          `Is it running? Start it with \`farrier serve\`, or point -E/--endpoint (FARRIER_ENDPOINT) at it.`,
      );
    }
    const reason = code ?? innermostMessage(err);
    return new ConnectionError(`cannot reach the Farrier daemon at ${this.endpoint}: ${reason}`);
  }
}

/** Digs the system error code (ECONNREFUSED, ENOTFOUND …) out of undici's "fetch failed" wrapper. */
function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur && typeof cur === 'object'; depth++) {
    const o = cur as { code?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof o.code === 'string' && /^E[A-Z]+$/.test(o.code)) return o.code;
    if (Array.isArray(o.errors) && o.errors.length > 0) cur = o.errors[0];
    else cur = o.cause;
  }
  return undefined;
}

/** "fetch failed" says nothing; the innermost cause ("bad port", "invalid URL") does. */
function innermostMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur instanceof Error && cur.cause !== undefined; depth++) {
    cur = cur.cause;
    if (cur instanceof Error && cur.message) message = cur.message;
  }
  return message;
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  if (contentType && /json/i.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function toApiError(status: number, body: unknown, method: string, path: string): ApiError {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const env = body as { code?: unknown; message?: unknown; fieldErrors?: unknown; detail?: unknown; error?: unknown };
    const message =
      typeof env.message === 'string' ? env.message : typeof env.error === 'string' ? env.error : `HTTP ${status}`;
    const fieldErrors = Array.isArray(env.fieldErrors) ? env.fieldErrors.filter(isFieldError) : [];
    const detail =
      env.detail && typeof env.detail === 'object' ? (env.detail as Record<string, unknown>) : undefined;
    return new ApiError(status, typeof env.code === 'string' ? env.code : `HTTP_${status}`, message, fieldErrors, detail);
  }
  const text = typeof body === 'string' && body.trim() !== '' ? body.trim() : `${method} ${path} failed`;
  return new ApiError(status, `HTTP_${status}`, text, []);
}

function isFieldError(v: unknown): v is ApiFieldError {
  return !!v && typeof v === 'object' && typeof (v as ApiFieldError).message === 'string';
}

function parseEventBlock(block: string): ServerSentEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  return { event, data: data.join('\n') };
}

/** Encodes one path segment (a key such as `mac:aa:bb:..` or a param name containing `/`). */
export function segment(key: string): string {
  return encodeURIComponent(key);
}
