/**
 * fetch() over node:https with a given CA, for `--ca-cert` (FARRIER_CA_CERT): the global fetch trusts only
 * the system store, and a daemon with a self-signed or private-CA certificate is the common case.
 * Returns a standard Response whose body streams (the event stream works as with fetch).
 */
import { request } from 'node:https';
import { Readable } from 'node:stream';

export function fetchWithCa(url: URL, init: RequestInit, ca: Buffer): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const req = request(url, { method: init.method ?? 'GET', headers, ca, signal: init.signal ?? undefined }, (res) => {
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        for (const one of [v].flat()) out.append(k, one);
      }
      const status = res.statusCode ?? 502;
      // A Response may not carry a body for these statuses.
      const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status, statusText: res.statusMessage, headers: out }));
    });
    req.on('error', reject);
    const body = init.body;
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else if (body instanceof ReadableStream) Readable.fromWeb(body as import('node:stream/web').ReadableStream).pipe(req);
    else reject(new TypeError('unsupported request body for --ca-cert requests'));
  });
}
