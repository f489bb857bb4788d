import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { FileContents } from '../../src/boot/fileContents.js';
import { discoverLoaders } from '../../src/boot/loaders.js';
import { Renderer } from '../../src/boot/render.js';
import { StaticRoot } from '../../src/boot/staticFiles.js';
import { BootTree } from '../../src/boot/tree.js';
import { bootFilesPlugin } from '../../src/http/bootFiles.js';
import { machine, MemoryBootData } from '../boot/fixtures.js';

const uuid = '3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b';
const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));

async function setup(t: { teardown: (fn: () => unknown) => void }, contents?: FileContents) {
  const dir = mkdtempSync(join(tmpdir(), 'fboot-http-'));
  const root = join(dir, 'files');
  mkdirSync(join(root, 'flatcar'), { recursive: true });
  writeFileSync(join(root, 'flatcar/flatcar_production_pxe.vmlinuz'), body);
  writeFileSync(join(root, 'name with 100% space.txt'), 'odd name');
  const data = new MemoryBootData();
  data.machines.push(machine({ bootenv: 'flatcar' }));
  const tree = new BootTree(data, new Renderer(data), { httpPort: 8091, staticIp: '10.77.0.1' }, discoverLoaders({}, [], join(dir, 'none')), new StaticRoot(root), undefined, contents);
  const app = Fastify();
  // Stands for the API the daemon registers beside the boot files.
  app.get('/api/v1/info', async () => ({ ok: true }));
  await app.register(bootFilesPlugin, { tree, publish: (e) => data.publish(e) });
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, data, root };
}

t.test('static files: length, ETag, Last-Modified, Range, HEAD, conditional GET', async (t) => {
  const { app, data } = await setup(t);
  const full = await app.inject({ method: 'GET', url: '/flatcar/flatcar_production_pxe.vmlinuz' });
  t.equal(full.statusCode, 200);
  t.equal(full.headers['content-length'], '4096');
  t.ok(full.rawPayload.equals(body));
  t.ok(full.headers.etag);
  t.ok(full.headers['last-modified']);
  t.equal(full.headers['accept-ranges'], 'bytes');
  const part = await app.inject({ method: 'GET', url: '/flatcar/flatcar_production_pxe.vmlinuz', headers: { range: 'bytes=100-199' } });
  t.equal(part.statusCode, 206);
  t.equal(part.headers['content-range'], 'bytes 100-199/4096');
  t.ok(part.rawPayload.equals(body.subarray(100, 200)));
  const head = await app.inject({ method: 'HEAD', url: '/flatcar/flatcar_production_pxe.vmlinuz' });
  t.equal(head.statusCode, 200);
  t.equal(head.headers['content-length'], '4096');
  t.equal(head.rawPayload.length, 0);
  const again = await app.inject({ method: 'GET', url: '/flatcar/flatcar_production_pxe.vmlinuz', headers: { 'if-none-match': String(full.headers.etag) } });
  t.equal(again.statusCode, 304);
  const ev = data.events.find((e) => e.type === 'http' && (e.object as { status: number }).status === 200);
  t.match(ev?.object, { path: '/flatcar/flatcar_production_pxe.vmlinuz', bytes: 4096 });
});

t.test('a file served from memory answers exactly as @fastify/send streaming it from disk', async (t) => {
  const disk = await setup(t);
  const kept = new FileContents(1 << 20, 1 << 18);
  const memory = await setup(t, kept);
  const url = '/flatcar/flatcar_production_pxe.vmlinuz';
  const onDisk = statSync(join(disk.root, url));
  utimesSync(join(memory.root, url), onDisk.atime, onDisk.mtime);
  const first = await disk.app.inject({ method: 'GET', url });
  const etag = String(first.headers.etag);
  const lastModified = String(first.headers['last-modified']);
  const earlier = new Date(Date.parse(lastModified) - 3600_000).toUTCString();
  const cases: Array<[string, Record<string, string>, string?]> = [
    ['plain GET', {}],
    ['HEAD', {}, 'HEAD'],
    ['one range', { range: 'bytes=100-199' }],
    ['open-ended range', { range: 'bytes=4000-' }],
    ['suffix range', { range: 'bytes=-10' }],
    ['range past the end, clipped', { range: 'bytes=4000-9999' }],
    ['unsatisfiable range', { range: 'bytes=5000-6000' }],
    ['several ranges', { range: 'bytes=0-1,5-9' }],
    ['If-None-Match hit', { 'if-none-match': etag }],
    ['If-None-Match miss', { 'if-none-match': 'W/"other"' }],
    ['If-Modified-Since, not modified', { 'if-modified-since': lastModified }],
    ['If-Modified-Since, modified since', { 'if-modified-since': earlier }],
    ['If-Match miss', { 'if-match': '"other"' }],
    ['If-Unmodified-Since before', { 'if-unmodified-since': earlier }],
    ['If-Range with the ETag', { range: 'bytes=0-9', 'if-range': etag }],
    ['If-Range with another ETag', { range: 'bytes=0-9', 'if-range': '"other"' }],
  ];
  const picked = ['content-length', 'content-range', 'content-type', 'etag', 'last-modified', 'accept-ranges', 'cache-control'];
  for (const [name, headers, method = 'GET'] of cases) {
    const a = await disk.app.inject({ method: method as 'GET' | 'HEAD', url, headers });
    const b = await memory.app.inject({ method: method as 'GET' | 'HEAD', url, headers });
    t.equal(b.statusCode, a.statusCode, `${name}: status ${a.statusCode}`);
    if (a.statusCode < 300) {
      t.same(Object.fromEntries(picked.map((h) => [h, b.headers[h]])), Object.fromEntries(picked.map((h) => [h, a.headers[h]])), `${name}: same headers`);
      t.ok(b.rawPayload.equals(a.rawPayload), `${name}: same ${a.rawPayload.length} body bytes`);
    } else if (a.statusCode === 416) t.equal(b.headers['content-range'], a.headers['content-range'], `${name}: same Content-Range`);
  }
  t.equal(kept.size, body.length, 'the file was served from memory');
});

t.test('a file kept in memory is read again once it changes on disk', async (t) => {
  const { app, root } = await setup(t, new FileContents(1 << 20, 1 << 18));
  const url = '/flatcar/flatcar_production_pxe.vmlinuz';
  t.ok((await app.inject({ method: 'GET', url })).rawPayload.equals(body));
  const changed = Buffer.alloc(body.length, 7);
  writeFileSync(join(root, 'flatcar/flatcar_production_pxe.vmlinuz'), changed);
  t.ok((await app.inject({ method: 'GET', url })).rawPayload.equals(changed), 'same size, new contents: served new');
  writeFileSync(join(root, 'flatcar/flatcar_production_pxe.vmlinuz'), 'short');
  t.equal((await app.inject({ method: 'GET', url })).body, 'short', 'new size: served new');
});

t.test('rendered files carry their exact length and a timeline event with the machine', async (t) => {
  const { app, data } = await setup(t);
  const r = await app.inject({ method: 'GET', url: '/52-54-00-12-34-56.ipxe' });
  t.equal(r.statusCode, 200);
  t.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
  t.match(r.body, 'kernel http://10.77.0.1:8091/flatcar/flatcar_production_pxe.vmlinuz');
  const h = await app.inject({ method: 'HEAD', url: '/52-54-00-12-34-56.ipxe' });
  t.equal(h.headers['content-length'], r.headers['content-length']);
  t.equal(h.rawPayload.length, 0);
  const ign = await app.inject({ method: 'GET', url: `/machines/${uuid}/ignition.json` });
  t.equal(ign.headers['content-type'], 'application/json');
  t.equal(JSON.parse(ign.body).ignition.version, '3.3.0');
  const ev = data.events.find((e) => e.type === 'http' && e.key === uuid);
  t.match(ev?.object, { path: '/52-54-00-12-34-56.ipxe', status: 200, mac: '52:54:00:12:34:56', uuid });
});

t.test('unknown path: 404 with a one-line reason; render failure: 500 with the message', async (t) => {
  const { app, data } = await setup(t);
  const nf = await app.inject({ method: 'GET', url: '/no/such/file' });
  t.equal(nf.statusCode, 404);
  t.equal(nf.body, 'no file no/such/file in the boot tree\n');
  data.machines[0].bootenv = 'e2e-busybox';
  const bad = await app.inject({ method: 'GET', url: `/machines/${uuid}/cloud-init` });
  t.equal(bad.statusCode, 500);
  t.match(bad.body, 'machine node1.lab');
  t.match(bad.body, 'bootenv e2e-busybox, template e2e-cloud-init line 1: param "e2e/nonce" is not set and has no default');
});

t.test('file names needing percent-encoding; malformed encoding is a 400', async (t) => {
  const { app } = await setup(t);
  const r = await app.inject({ method: 'GET', url: '/name%20with%20100%25%20space.txt' });
  t.equal(r.statusCode, 200, r.body);
  t.equal(r.body, 'odd name');
  t.equal((await app.inject({ method: 'GET', url: '/%E0%A4%A' })).statusCode, 400);
  t.equal((await app.inject({ method: 'GET', url: '/%2e%2e/%2e%2e/etc/passwd' })).statusCode, 404);
});

t.test('API, Swagger and spec paths are never boot files', async (t) => {
  const { app } = await setup(t);
  t.same((await app.inject({ method: 'GET', url: '/api/v1/info' })).json(), { ok: true });
  for (const url of ['/api/v1/nothing', '/swagger/x', '/openapi.yaml']) {
    const r = await app.inject({ method: 'GET', url });
    t.equal(r.statusCode, 404, url);
    t.notMatch(r.body, 'boot tree', url);
  }
});
