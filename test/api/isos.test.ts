import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { requireTool } from '../helpers/env.js';
import { type UploadHarness, buildIso, makeUploadHarness, sha256 } from './uploads.js';

const OCTET = 'application/octet-stream';

async function createBootEnv(h: UploadHarness, name: string, iso: string, isoSha256?: string): Promise<void> {
  const res = await h.api('POST', '/api/v1/bootenvs', {
    body: { name, os: { name, isoFile: iso, ...(isoSha256 ? { isoSha256 } : {}) }, kernel: 'casper/vmlinuz', initrds: ['casper/initrd'], bootParams: 'boot=casper' },
  });
  if (res.status !== 201) throw new Error(`bootenv ${name}: ${res.text}`);
}

const strayEntries = (root: string): string[] => readdirSync(root).filter((n) => n.startsWith('.farrier'));

t.test('an uploaded ISO explodes into <os.name>/ and its bootenv becomes available', async (t) => {
  if (!requireTool(t, 'xorriso') || !requireTool(t, 'bsdtar')) return;
  const kernel = randomBytes(300_000);
  const initrd = randomBytes(200_000);
  const iso = buildIso(t, { 'casper/vmlinuz': kernel, 'casper/initrd': initrd, 'README.diskdefines': Buffer.from('x') });
  const h = await makeUploadHarness(t);
  await createBootEnv(h, 'ubuntu-test', 'ubuntu-test.iso', sha256(iso));

  const before = (await h.api('GET', '/api/v1/bootenvs/ubuntu-test')).body as { available: boolean; errors: string[] };
  t.equal(before.available, false, 'unavailable before the ISO is there');
  t.match(before.errors.join('\n'), /ubuntu-test\/casper\/vmlinuz is not in the boot tree/);

  const up = await h.api('POST', '/api/v1/isos/ubuntu-test.iso', { payload: iso, contentType: OCTET });
  t.equal(up.status, 201);
  t.same(up.body, { name: 'ubuntu-test.iso', size: iso.length, sha256: sha256(iso), exploded: [{ directory: 'ubuntu-test', bootenvs: ['ubuntu-test'] }] });

  const after = (await h.api('GET', '/api/v1/bootenvs/ubuntu-test')).body as { available: boolean; errors: string[] };
  t.equal(after.available, true, 'available once kernel and initrd exist');
  t.same(after.errors, []);

  const client = { address: '127.0.0.1', port: 1 };
  t.match(await h.layer.tree.lookup('ubuntu-test/casper/vmlinuz', client), { kind: 'file', size: kernel.length });
  const served = await h.app.inject({ method: 'GET', url: '/ubuntu-test/casper/initrd' });
  t.equal(served.statusCode, 200);
  t.ok(served.rawPayload.equals(initrd), 'the boot tree serves the initrd from the ISO over HTTP');
  const isoServed = await h.app.inject({ method: 'GET', url: '/isos/ubuntu-test.iso' });
  t.ok(isoServed.rawPayload.equals(iso), 'the ISO itself is in the tree at isos/<name>');

  const listed = await h.api('GET', '/api/v1/isos');
  t.match(listed.body, [{ name: 'ubuntu-test.iso', size: iso.length, bootenvs: ['ubuntu-test'] }]);
  t.equal((listed.body as unknown[]).length, 1);

  // Re-uploading replaces the exploded tree wholesale.
  const iso2 = buildIso(t, { 'casper/vmlinuz': Buffer.from('new kernel'), 'casper/initrd': initrd });
  await h.api('PATCH', '/api/v1/bootenvs/ubuntu-test', { body: { os: { isoSha256: sha256(iso2) } }, contentType: 'application/merge-patch+json' });
  t.equal((await h.api('POST', '/api/v1/isos/ubuntu-test.iso', { payload: iso2, contentType: OCTET })).status, 201);
  t.equal(readFileSync(join(h.root, 'ubuntu-test/casper/vmlinuz'), 'utf8'), 'new kernel');
  t.notOk(existsSync(join(h.root, 'ubuntu-test/README.diskdefines')), 'files of the old ISO are gone');
  t.same(strayEntries(h.root), [], 'no staging directories left');

  const del = await h.api('DELETE', '/api/v1/isos/ubuntu-test.iso');
  t.equal(del.status, 200);
  t.match(del.body, { name: 'ubuntu-test.iso', size: iso2.length, bootenvs: ['ubuntu-test'] });
  t.same((await h.api('GET', '/api/v1/isos')).body, []);
  t.equal((await h.api('DELETE', '/api/v1/isos/ubuntu-test.iso')).status, 404);
  t.equal(((await h.api('GET', '/api/v1/bootenvs/ubuntu-test')).body as { available: boolean }).available, true, 'the exploded files stay');
});

t.test('a sha256 mismatch is refused with 422 and nothing is stored or exploded', async (t) => {
  if (!requireTool(t, 'xorriso') || !requireTool(t, 'bsdtar')) return;
  const iso = buildIso(t, { 'casper/vmlinuz': Buffer.from('k'), 'casper/initrd': Buffer.from('i') });
  const h = await makeUploadHarness(t);
  await createBootEnv(h, 'pinned', 'pinned.iso', 'ab'.repeat(32));
  const res = await h.api('POST', '/api/v1/isos/pinned.iso', { payload: iso, contentType: OCTET });
  t.equal(res.status, 422);
  t.match((res.body as { message: string }).message, new RegExp(`sha256 ${sha256(iso)} does not match os.isoSha256 of bootenv pinned`));
  t.same((await h.api('GET', '/api/v1/isos')).body, []);
  t.notOk(existsSync(join(h.root, 'pinned')), 'nothing exploded');
  t.equal(((await h.api('GET', '/api/v1/bootenvs/pinned')).body as { available: boolean }).available, false);
});

t.test('an ISO no bootenv names is only stored; bad names and non-ISOs are refused', async (t) => {
  if (!requireTool(t, 'bsdtar')) return;
  const h = await makeUploadHarness(t);
  const res = await h.api('POST', '/api/v1/isos/spare.iso', { payload: 'not really an iso', contentType: OCTET });
  t.equal(res.status, 201);
  t.same((res.body as { exploded: unknown[] }).exploded, []);
  t.equal((await h.api('POST', '/api/v1/isos/a%2Fb.iso', { payload: 'x', contentType: OCTET })).status, 422, 'a name with / is refused');
  t.equal((await h.api('POST', '/api/v1/isos/a%5Cb.iso', { payload: 'x', contentType: OCTET })).status, 422, 'a backslash is refused');

  await createBootEnv(h, 'broken', 'broken.iso');
  const bad = await h.api('POST', '/api/v1/isos/broken.iso', { payload: randomBytes(70_000), contentType: OCTET });
  t.equal(bad.status, 422, 'an image bsdtar cannot read → 422');
  t.match((bad.body as { message: string }).message, /could not be extracted/);
  t.same(strayEntries(h.root), [], 'the staging directory was removed');
});

t.test('without bsdtar the upload answers 503 naming the Debian package', async (t) => {
  const h = await makeUploadHarness(t, { bsdtar: '/nonexistent/bsdtar' });
  await createBootEnv(h, 'needs-tar', 'needs-tar.iso');
  const res = await h.api('POST', '/api/v1/isos/needs-tar.iso', { payload: 'x', contentType: OCTET });
  t.equal(res.status, 503);
  t.match((res.body as { message: string }).message, /libarchive-tools/);
});

t.test('auth: uploads need admin or operator; machine tokens get 403', async (t) => {
  const h = await makeUploadHarness(t);
  t.equal((await h.api('POST', '/api/v1/isos/x.iso', { payload: 'x', contentType: OCTET, as: 'none' })).status, 401);
  t.equal((await h.api('POST', '/api/v1/isos/x.iso', { payload: 'x', contentType: OCTET, as: 'reader' })).status, 403);
  t.equal((await h.api('GET', '/api/v1/isos', { as: 'reader' })).status, 200);
  const m = (await h.api('POST', '/api/v1/machines', { body: { name: 'm1' } })).body as { uuid: string };
  const { token } = (await h.api('POST', `/api/v1/machines/${m.uuid}/token`)).body as { token: string };
  t.equal((await h.api('POST', '/api/v1/isos/x.iso', { payload: 'x', contentType: OCTET, token })).status, 403);
  t.equal((await h.api('GET', '/api/v1/isos', { token })).status, 403);
  t.equal((await h.api('DELETE', '/api/v1/isos/x.iso', { as: 'reader' })).status, 403);
});
