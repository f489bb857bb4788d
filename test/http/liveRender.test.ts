/**
 * Rendered boot files are cached in memory (src/boot/dataCache.ts), yet every change made through the REST
 * API must show in the very next boot-file request. A whole daemon (real wiring, SQLite, HTTP on loopback):
 * warm the caches, change one thing through the API, fetch at once, and check the file changed — for each
 * kind of object a render reads. Large files stream intact to concurrent clients, also after an aborted one.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startWhole, type Whole } from '../wiring/helpers.js';

const MAC = '52:54:00:77:00:01';
const HYPHEN = MAC.replace(/:/g, '-');

async function get(w: Whole, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${w.daemon.url}/${path}`);
  return { status: res.status, text: await res.text() };
}

async function ok(t: Test, w: Whole, method: string, path: string, body?: unknown, contentType?: string): Promise<Record<string, unknown>> {
  const r = await w.api(method, path, body, contentType);
  if (r.status >= 300) t.fail(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body as Record<string, unknown>;
}

const lineOf = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

t.test('every API change shows in the next rendered file', async (t) => {
  const w = await startWhole(t, { tftpEnabled: false, dhcpEnabled: false });
  mkdirSync(join(w.config.dataDir, 'files/live'), { recursive: true });
  writeFileSync(join(w.config.dataDir, 'files/live/vmlinuz'), 'kernel');
  await ok(t, w, 'POST', '/api/v1/templates', { id: 'live-ks', contents: 'p={{params.p}} q={{params.q}} g={{params.g}}\n{{> live-part}}\ntoken={{token}}\n' });
  await ok(t, w, 'POST', '/api/v1/templates', { id: 'live-part', contents: 'part v1' });
  await ok(t, w, 'POST', '/api/v1/bootenvs', {
    name: 'live',
    description: 'cache test',
    os: { name: 'live' },
    kernel: 'vmlinuz',
    initrds: [],
    bootParams: 'args=v1 p={{params.p}}',
    templates: [{ name: 'ks', path: '{{machine.path}}/ks.cfg', templateId: 'live-ks' }],
  });
  await ok(t, w, 'POST', '/api/v1/profiles', { name: 'live-prof', params: { q: 'q1' } });
  await ok(t, w, 'PUT', '/api/v1/profiles/global/params', { g: 'g1' });
  const m = await ok(t, w, 'POST', '/api/v1/machines', { name: 'live-1', macs: [MAC], bootenv: 'live', profiles: ['live-prof'], params: { p: 'p0' } });
  const uuid = String(m.uuid);
  const ks = `machines/${uuid}/ks.cfg`;

  // Warm every cache: machine by MAC and uuid, bootenv, templates, params, token.
  for (let i = 0; i < 3; i++) {
    t.match((await get(w, ks)).text, /^p=p0 q=q1 g=g1\npart v1/);
    t.match((await get(w, `${HYPHEN}.ipxe`)).text, /args=v1 p=p0/);
  }

  await t.test('machine param, many times in a row', async (t) => {
    for (let i = 1; i <= 30; i++) {
      await ok(t, w, 'PUT', `/api/v1/machines/${uuid}/params/p`, `p${i}`);
      t.equal(lineOf((await get(w, ks)).text, 'p='), `p=p${i} q=q1 g=g1`);
    }
    t.match((await get(w, `${HYPHEN}.ipxe`)).text, /args=v1 p=p30/, 'bootParams in the loader script too');
  });

  await t.test('profile and global params', async (t) => {
    await ok(t, w, 'PUT', '/api/v1/profiles/live-prof/params/q', 'q2');
    t.equal(lineOf((await get(w, ks)).text, 'p='), 'p=p30 q=q2 g=g1');
    await ok(t, w, 'PUT', '/api/v1/profiles/global/params/g', 'g2');
    t.equal(lineOf((await get(w, ks)).text, 'p='), 'p=p30 q=q2 g=g2');
    await ok(t, w, 'PUT', `/api/v1/machines/${uuid}/params/q`, 'q-own');
    t.equal(lineOf((await get(w, ks)).text, 'p='), 'p=p30 q=q-own g=g2', 'a machine value beats its profile');
    await ok(t, w, 'DELETE', `/api/v1/machines/${uuid}/params/q`);
    t.equal(lineOf((await get(w, ks)).text, 'p='), 'p=p30 q=q2 g=g2');
  });

  await t.test('a param definition: its default fills an unset value', async (t) => {
    await ok(t, w, 'PATCH', '/api/v1/templates/live-ks', { contents: 'p={{params.p}} d={{params.live-default}}\n{{> live-part}}\n' }, 'application/merge-patch+json');
    t.equal((await get(w, ks)).status, 500, 'strict: an unset param is an error');
    await ok(t, w, 'POST', '/api/v1/params', { name: 'live-default', schema: { type: 'string', default: 'from-schema' } });
    t.equal(lineOf((await get(w, ks)).text, 'p='), 'p=p30 d=from-schema');
  });

  await t.test('templates and partials', async (t) => {
    await ok(t, w, 'PATCH', '/api/v1/templates/live-part', { contents: 'part v2' }, 'application/merge-patch+json');
    t.match((await get(w, ks)).text, /\npart v2/);
    await ok(t, w, 'PATCH', '/api/v1/templates/live-ks', { contents: 'new body {{machine.name}}\n' }, 'application/merge-patch+json');
    t.equal((await get(w, ks)).text, 'new body live-1\n');
  });

  await t.test('bootenv and the machine record', async (t) => {
    await ok(t, w, 'PATCH', '/api/v1/bootenvs/live', { bootParams: 'args=v2' }, 'application/merge-patch+json');
    t.match((await get(w, `${HYPHEN}.ipxe`)).text, /args=v2/);
    await ok(t, w, 'PATCH', '/api/v1/bootenvs/live', { templates: [{ name: 'ks', path: '{{machine.path}}/moved.cfg', templateId: 'live-ks' }] }, 'application/merge-patch+json');
    t.equal((await get(w, ks)).status, 404, 'the old path is gone');
    t.equal((await get(w, `machines/${uuid}/moved.cfg`)).text, 'new body live-1\n');
    await ok(t, w, 'PATCH', `/api/v1/machines/${uuid}`, { name: 'live-renamed' }, 'application/merge-patch+json');
    t.equal((await get(w, `machines/${uuid}/moved.cfg`)).text, 'new body live-renamed\n');
    await ok(t, w, 'PATCH', `/api/v1/machines/${uuid}`, { macs: ['52:54:00:77:00:02'] }, 'application/merge-patch+json');
    t.match((await get(w, '52-54-00-77-00-02.ipxe')).text, /args=v2/, 'the new MAC finds the machine');
    t.notMatch((await get(w, `${HYPHEN}.ipxe`)).text, /args=v2/, 'the old MAC is an unknown machine now');
    await ok(t, w, 'POST', `/api/v1/machines/${uuid}/bootenv`, { bootenv: 'local' });
    t.notMatch((await get(w, '52-54-00-77-00-02.ipxe')).text, /vmlinuz/, 'bootenv local: no kernel any more');
  });

  await t.test('unknown machines follow prefs.unknownBootEnv', async (t) => {
    const before = (await get(w, '52-54-00-99-99-99.ipxe')).text;
    await ok(t, w, 'PATCH', '/api/v1/prefs', { unknownBootEnv: 'discovery' }, 'application/merge-patch+json');
    const after = (await get(w, '52-54-00-99-99-99.ipxe')).text;
    t.not(after, before);
    t.match(after, /discovery/);
  });
});

t.test('rotating the token secret changes the token in the very next file, within the same second', async (t) => {
  const w = await startWhole(t, { tftpEnabled: false, dhcpEnabled: false });
  await ok(t, w, 'POST', '/api/v1/templates', { id: 'tok', contents: '{{token}}' });
  await ok(t, w, 'POST', '/api/v1/bootenvs', {
    name: 'tok',
    description: 'token test',
    os: { name: 'tok' },
    kernel: '',
    initrds: [],
    bootParams: '',
    templates: [{ name: 'tok', path: '{{machine.path}}/token', templateId: 'tok' }],
  });
  const m = await ok(t, w, 'POST', '/api/v1/machines', { name: 'tok-1', macs: ['52:54:00:77:01:01'], bootenv: 'tok' });
  const path = `machines/${String(m.uuid)}/token`;
  for (let i = 0; i < 5; i++) {
    const old = (await get(w, path)).text;
    const before = await fetch(`${w.daemon.url}/api/v1/machines/${String(m.uuid)}`, { headers: { authorization: `Bearer ${old}` } });
    t.equal(before.status, 200, 'the token works before the rotation');
    await ok(t, w, 'POST', `/api/v1/machines/${String(m.uuid)}/rotate-token-secret`);
    const fresh = (await get(w, path)).text;
    t.not(fresh, old, `rotation ${i + 1}: a new token at once`);
    const self = await fetch(`${w.daemon.url}/api/v1/machines/${String(m.uuid)}`, { headers: { authorization: `Bearer ${fresh}` } });
    t.equal(self.status, 200, 'the new token works');
    const stale = await fetch(`${w.daemon.url}/api/v1/machines/${String(m.uuid)}`, { headers: { authorization: `Bearer ${old}` } });
    t.equal(stale.status, 401, 'the old one is revoked');
  }
});

t.test('a large file streams intact to concurrent clients, also after one aborts mid-transfer', async (t) => {
  const w = await startWhole(t, { tftpEnabled: false, dhcpEnabled: false });
  const data = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  mkdirSync(join(w.config.dataDir, 'files/big'), { recursive: true });
  writeFileSync(join(w.config.dataDir, 'files/big/initrd'), data);
  const digest = createHash('sha256').update(data).digest('hex');
  const url = `${w.daemon.url}/big/initrd`;

  const aborter = new AbortController();
  const partial = await fetch(url, { signal: aborter.signal });
  const reader = partial.body?.getReader();
  await reader?.read();
  aborter.abort();

  const fetched = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const r = await fetch(url);
      return { status: r.status, length: r.headers.get('content-length'), hash: createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex') };
    }),
  );
  for (const f of fetched) t.same(f, { status: 200, length: String(data.length), hash: digest });
  const range = await fetch(url, { headers: { range: 'bytes=5000000-5000099' } });
  t.equal(range.status, 206);
  t.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(5_000_000, 5_000_100)));
});
