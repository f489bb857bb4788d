import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PASSWORDS, basic, makeHarness } from './harness.js';
import { makeUploadHarness, sha256 } from './uploads.js';

const OCTET = 'application/octet-stream';

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

/** A request whose path is sent exactly as given. */
function raw(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: basic('admin', PASSWORDS.admin) };
    if (body !== undefined) headers['content-type'] = OCTET;
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('upload, download, replace, list and delete; the boot tree serves the file at files/<path>', async (t) => {
  const h = await makeUploadHarness(t);
  const data = randomBytes(1024 * 1024 + 17);
  const put = await h.api('PUT', '/api/v1/files/flatcar/3975/vmlinuz', { payload: data, contentType: OCTET });
  t.equal(put.status, 201);
  t.same(put.body, { path: 'flatcar/3975/vmlinuz', size: data.length, sha256: sha256(data), treePath: 'files/flatcar/3975/vmlinuz' });
  t.ok(readFileSync(join(h.root, 'files/flatcar/3975/vmlinuz')).equals(data), 'stored under <data-dir>/files/files/<path>');

  const got = await h.api('GET', '/api/v1/files/flatcar/3975/vmlinuz');
  t.equal(got.status, 200);
  t.equal(got.headers['content-type'], OCTET);
  t.equal(Number(got.headers['content-length']), data.length);
  t.ok(got.raw.equals(data), 'download returns the uploaded bytes');

  const served = await h.app.inject({ method: 'GET', url: '/files/flatcar/3975/vmlinuz' });
  t.equal(served.statusCode, 200, 'boot files over HTTP serve it at /files/<path>');
  t.ok(served.rawPayload.equals(data));
  const entry = await h.layer.tree.lookup('files/flatcar/3975/vmlinuz', { address: '127.0.0.1', port: 1 });
  t.match(entry, { kind: 'file', size: data.length }, 'the tree (TFTP too) finds it at files/<path>');

  const second = Buffer.from('replaced\n');
  const replaced = await h.api('PUT', '/api/v1/files/flatcar/3975/vmlinuz', { payload: second, contentType: OCTET });
  t.match(replaced.body, { size: second.length, sha256: sha256(second) });
  t.equal((await h.api('GET', '/api/v1/files/flatcar/3975/vmlinuz')).text, 'replaced\n');

  await h.api('PUT', '/api/v1/files/top.txt', { payload: 'top', contentType: OCTET });
  const rootList = await h.api('GET', '/api/v1/files');
  t.match(rootList.body, [
    { name: 'flatcar', type: 'directory' },
    { name: 'top.txt', type: 'file', size: 3 },
  ]);
  const dirList = await h.api('GET', '/api/v1/files?path=flatcar/3975');
  t.match(dirList.body, [{ name: 'vmlinuz', type: 'file', size: second.length }]);
  t.equal((dirList.body as unknown[]).length, 1);
  t.equal((await h.api('GET', '/api/v1/files?path=nothing/here')).status, 404);
  t.equal((await h.api('GET', '/api/v1/files?path=top.txt')).status, 400, 'listing a file is refused');

  const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}.bin`;
  t.equal((await h.api('PUT', `/api/v1/files/${deep}`, { payload: 'deep', contentType: OCTET })).status, 201, 'paths longer than a router parameter work');
  t.equal((await h.api('GET', `/api/v1/files/${deep}`)).text, 'deep');
  const del = await h.api('DELETE', '/api/v1/files/flatcar/3975/vmlinuz');
  t.equal(del.status, 200);
  t.same(del.body, { path: 'flatcar/3975/vmlinuz', size: second.length });
  t.equal((await h.api('GET', '/api/v1/files/flatcar/3975/vmlinuz')).status, 404);
  t.equal((await h.api('DELETE', '/api/v1/files/flatcar/3975/vmlinuz')).status, 404);
  t.equal((await h.app.inject({ method: 'GET', url: '/files/flatcar/3975/vmlinuz' })).statusCode, 404, 'gone from the boot tree');
});

t.test('a 64 MiB upload streams to disk with the right sha256 and leaves no temp file', async (t) => {
  const h = await makeUploadHarness(t);
  const chunk = randomBytes(1024 * 1024);
  const total = 64;
  const hash = createHash('sha256');
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent === total) return void this.push(null);
      // Each MiB differs (its index in the first bytes) so a dropped or repeated chunk changes the hash.
      const c = Buffer.from(chunk);
      c.writeUInt32BE(sent, 0);
      hash.update(c);
      sent++;
      this.push(c);
    },
  });
  const res = await h.api('PUT', '/api/v1/files/big/disk.img', { payload: body, contentType: OCTET });
  t.equal(res.status, 201);
  t.same(res.body, { path: 'big/disk.img', size: total * 1024 * 1024, sha256: hash.digest('hex'), treePath: 'files/big/disk.img' });
  t.same(readdirSync(join(h.root, 'files/big')), ['disk.img'], 'only the file: the temp name was renamed');
  t.match((await h.api('GET', '/api/v1/files?path=big')).body, [{ name: 'disk.img', size: total * 1024 * 1024 }]);
});

t.test('an upload that breaks off leaves the old file and no temp file', async (t) => {
  const h = await makeUploadHarness(t);
  await h.api('PUT', '/api/v1/files/keep.bin', { payload: 'old contents', contentType: OCTET });
  const port = await listen(h.app);
  // A real socket: announce 4 MiB, send 256 KiB, hang up.
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => sock.on('connect', resolve));
  sock.write(`PUT /api/v1/files/keep.bin HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('admin', PASSWORDS.admin)}\r\nContent-Type: ${OCTET}\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
  sock.write(randomBytes(256 * 1024));
  await new Promise((r) => setTimeout(r, 200));
  sock.destroy();
  const dir = join(h.root, 'files');
  for (let i = 0; i < 100 && readdirSync(dir).length > 1; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(readdirSync(dir), ['keep.bin'], 'no temp file left');
  t.equal(readFileSync(join(dir, 'keep.bin'), 'utf8'), 'old contents', 'the old file is intact');
});

t.test('paths that leave the files root are refused with 422 naming the path', async (t) => {
  const h = await makeUploadHarness(t);
  mkdirSync(join(h.root, 'files'), { recursive: true });
  writeFileSync(join(h.dataDir, 'secret'), 'not for you');
  symlinkSync(h.dataDir, join(h.root, 'files', 'escape'));
  // Dot segments go over a real socket: inject (like browsers) would resolve them before the server sees them.
  const port = await listen(h.app);
  for (const path of ['a/../../../secret', '%2e%2e/%2e%2e/secret', '../secret']) {
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await raw(port, method, `/api/v1/files/${path}`, method === 'PUT' ? 'x' : undefined);
      t.equal(res.status, 422, `${method} ${path} over HTTP → 422`);
      t.match(res.body, /path \\?".*\.\..*\\?" climbs out of the files root/, `${method} ${path}: message names the path and why`);
    }
  }
  const attacks: [string, string][] = [
    ['..%2F..%2Fsecret', '..'],
    ['%2Fetc%2Fpasswd', 'absolute'],
    ['a%5C..%5Csecret', 'backslash'],
    ['a%00b', 'NUL'],
    ['escape/secret', 'symlink'],
    ['a//b', 'empty'],
  ];
  for (const [path, why] of attacks) {
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await h.api(method, `/api/v1/files/${path}`, method === 'PUT' ? { payload: 'x', contentType: OCTET } : {});
      t.equal(res.status, 422, `${method} ${path} → 422`);
      t.match((res.body as { message: string }).message, /^path ".*" /, `${method} ${path}: message names the path`);
      t.match((res.body as { message: string }).message, new RegExp(why), `${method} ${path}: says why (${why})`);
    }
  }
  t.equal((await h.api('GET', '/api/v1/files?path=../..')).status, 422, 'listing outside → 422');
  t.equal(readFileSync(join(h.dataDir, 'secret'), 'utf8'), 'not for you', 'nothing outside the root was touched');
  t.notOk(existsSync(join(h.dataDir, 'x')));
});

t.test('auth: reading needs a user, writing needs admin or operator, machine tokens get 403', async (t) => {
  const h = await makeUploadHarness(t);
  t.equal((await h.api('PUT', '/api/v1/files/a.txt', { payload: 'a', contentType: OCTET, as: 'none' })).status, 401);
  t.equal((await h.api('GET', '/api/v1/files/a.txt', { as: 'none' })).status, 401);
  t.equal((await h.api('GET', '/api/v1/files', { as: 'none' })).status, 401);
  t.equal((await h.api('PUT', '/api/v1/files/a.txt', { payload: 'a', contentType: OCTET, as: 'reader' })).status, 403);
  t.equal((await h.api('PUT', '/api/v1/files/a.txt', { payload: 'a', contentType: OCTET, as: 'operator' })).status, 201);
  t.equal((await h.api('GET', '/api/v1/files/a.txt', { as: 'reader' })).text, 'a', 'read-only users may download');
  t.equal((await h.api('DELETE', '/api/v1/files/a.txt', { as: 'reader' })).status, 403);

  const m = (await h.api('POST', '/api/v1/machines', { body: { name: 'm1', macs: ['52:54:00:00:00:01'] } })).body as { uuid: string };
  const { token } = (await h.api('POST', `/api/v1/machines/${m.uuid}/token`)).body as { token: string };
  t.equal((await h.api('PUT', '/api/v1/files/b.txt', { payload: 'b', contentType: OCTET, token })).status, 403, 'machine token may not upload');
  t.equal((await h.api('GET', '/api/v1/files/a.txt', { token })).status, 403, 'machine token may not download');
  t.equal((await h.api('DELETE', '/api/v1/files/a.txt', { token })).status, 403);
  t.equal((await h.api('GET', '/api/v1/files/a.txt')).text, 'a', 'the file is still there');
});

t.test('uploads must be application/octet-stream', async (t) => {
  const h = await makeUploadHarness(t);
  const res = await h.api('PUT', '/api/v1/files/a.json', { body: { a: 1 } });
  t.equal(res.status, 415);
  t.notOk(existsSync(join(h.root, 'files/a.json')));
});

t.test('without a boot root the routes answer 503', async (t) => {
  const h = await makeHarness(t);
  const res = await h.api('PUT', '/api/v1/files/a.txt', { payload: 'a', contentType: OCTET });
  t.equal(res.status, 503);
  t.match((res.body as { message: string }).message, /no boot root/);
});
