/**
 * A tiny static HTTP server run as its own process inside a test namespace (the harness test's stand-in for
 * Farrier's HTTP side). GET/HEAD serve files under --root; every POST is appended as one JSON line to
 * --posts; every request is logged as one JSON line on stdout.
 * usage: node <ts loader> httpServe.ts --host IP --port N --root DIR --posts FILE
 */
import { createReadStream, appendFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, root: { type: 'string' }, posts: { type: 'string' } } });
const root = resolve(values.root ?? '.');
const postsFile = values.posts ?? join(root, 'posts.jsonl');

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const log = (status: number, bytes: number): void => {
    process.stdout.write(JSON.stringify({ method: req.method, path: url.pathname, status, bytes, from: req.socket.remoteAddress }) + '\n');
  };
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      appendFileSync(postsFile, JSON.stringify({ path: url.pathname, authorization: req.headers.authorization ?? null, contentType: req.headers['content-type'] ?? null, body }) + '\n');
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}\n');
      log(200, body.length);
    });
    return;
  }
  const file = resolve(root, '.' + decodeURIComponent(url.pathname));
  let size = -1;
  try {
    const st = statSync(file);
    if (file.startsWith(root + sep) && st.isFile()) size = st.size;
  } catch {
    // missing
  }
  if (size < 0) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${url.pathname}\n`);
    log(404, 0);
    return;
  }
  res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/octet-stream' });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
  log(200, size);
});
server.listen(Number(values.port ?? 8080), values.host ?? '0.0.0.0', () => {
  process.stdout.write(JSON.stringify({ listening: server.address() }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
