// Docker HEALTHCHECK for the Farrier image (the image has no curl): healthy when GET /api/v1/info answers 200
// and no service reports a bind error. Reads the same FARRIER_HTTP_PORT / FARRIER_HTTP_HOST the daemon does;
// a port set only in a --config file is not seen here, so set the HTTP port through the environment in Docker.
const host = !process.env.FARRIER_HTTP_HOST || process.env.FARRIER_HTTP_HOST === '0.0.0.0' ? '127.0.0.1' : process.env.FARRIER_HTTP_HOST;
const port = process.env.FARRIER_HTTP_PORT || '8091';
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/api/v1/info`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) {
    console.error(`${url}: HTTP ${res.status}`);
    process.exit(1);
  }
  const info = await res.json();
  const failed = Object.entries(info.services ?? {}).filter(([, s]) => s?.error);
  for (const [name, s] of failed) console.error(`${name}: ${s.error}`);
  process.exit(failed.length === 0 ? 0 : 1);
} catch (err) {
  console.error(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
