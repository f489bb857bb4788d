/**
 * Secrets stay where they belong, checked against a whole daemon (its real pino output captured):
 * a secure param set on machine A reaches A's own rendered files and nothing else — not machine B's files,
 * not the unknown-machine defaults, not list responses, not other objects, not the event stream, not the
 * timeline, not the log, not /metrics. Password hashes, machine token secrets and the token signing key
 * are never returned by any endpoint.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Machine } from '../../src/model/types.js';
import { startSecurityDaemon } from './helpers.js';

const SECRET_A = 'S3cret-of-A-7f41c2';
const SECRET_B = 'S3cret-of-B-0d93aa';
const SECRET_GLOBAL = 'S3cret-global-5b8e19';
const MAC_A = '52:54:00:5e:a0:01';
const MAC_B = '52:54:00:5e:b0:02';
const MAC_UNKNOWN = '52:54:00:5e:ff:03';

const hyphens = (mac: string): string => mac.replace(/:/g, '-');

/** Reads the admin event stream from now on; `stop()` ends it and returns everything received, as raw text. */
async function recordEvents(t: Test, url: string, auth: string): Promise<{ text: () => string; stop: () => Promise<string> }> {
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const stream = await fetch(`${url}/api/v1/events`, { headers: { authorization: auth }, signal: abort.signal });
  let events = '';
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) events += decoder.decode(chunk);
    } catch {
      // aborted at stop() or teardown
    }
  })();
  return {
    text: () => events,
    stop: async () => {
      abort.abort();
      await reading;
      return events;
    },
  };
}

t.test('a secure param of machine A appears only in A\'s own rendered files', async (t) => {
  const d = await startSecurityDaemon(t, { logLevel: 'trace', tftpEnabled: false, dhcpEnabled: false });
  const admin = { auth: d.adminAuth };

  // The event stream runs for the whole test; every event is kept as the raw text the client received.
  const recorder = await recordEvents(t, d.daemon.url, d.adminAuth);

  t.equal((await d.send('POST', '/api/v1/params', { ...admin, body: { name: 'sec/root-password', schema: { type: 'string' }, secure: true } })).status, 201);
  t.equal(
    (await d.send('POST', '/api/v1/bootenvs', {
      ...admin,
      body: {
        name: 'sec-env',
        os: { name: 'sec' },
        kernel: 'vmlinuz',
        initrds: ['initrd.img'],
        bootParams: 'pw={{param "sec/root-password"}} ds=nocloud-net;s={{machine.url}}/',
        templates: [{ name: 'user-data', path: 'machines/{{machine.uuid}}/user-data', contents: '#cloud-config\npassword: {{param "sec/root-password"}}\ntoken: {{token}}\n' }],
      },
    })).status,
    201,
  );
  // Unknown machines get a bootenv whose files use the param too, and a global value exists: still no secret.
  t.equal(
    (await d.send('POST', '/api/v1/bootenvs', {
      ...admin,
      body: {
        name: 'sec-unknown',
        onlyUnknown: true,
        os: { name: 'sec' },
        kernel: 'vmlinuz',
        bootParams: 'pw={{param "sec/root-password"}}',
        templates: [{ name: 'user-data', path: 'user-data', contents: 'password: {{param "sec/root-password"}}\n' }],
      },
    })).status,
    201,
  );
  t.equal((await d.send('PATCH', '/api/v1/prefs', { ...admin, body: { unknownBootEnv: 'sec-unknown' }, contentType: 'application/merge-patch+json' })).status, 200);
  t.equal((await d.send('PUT', '/api/v1/profiles/global/params/sec%2Froot-password', { ...admin, body: SECRET_GLOBAL })).status, 200);
  const a = (await d.send('POST', '/api/v1/machines', { ...admin, body: { name: 'sec-a', macs: [MAC_A], bootenv: 'sec-env', params: { 'sec/root-password': SECRET_A } } })).body as Machine;
  const b = (await d.send('POST', '/api/v1/machines', { ...admin, body: { name: 'sec-b', macs: [MAC_B], bootenv: 'sec-env' } })).body as Machine;
  t.equal((await d.send('PUT', `/api/v1/machines/${b.uuid}/params/sec%2Froot-password`, { ...admin, body: SECRET_B })).status, 200);
  // A profile holding a secure value is as secret as a machine holding one.
  t.equal((await d.send('POST', '/api/v1/profiles', { ...admin, body: { name: 'sec-prof', params: { 'sec/root-password': SECRET_A } } })).status, 201);

  // Boot files over plain HTTP, no credentials (firmware has none): A's carry A's secret — the positive
  // control that proves the template really renders it — and B's and the unknown defaults never do.
  const get = async (path: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${d.daemon.url}/${path}`);
    return { status: res.status, text: await res.text() };
  };
  const aFiles = [`${hyphens(MAC_A)}.ipxe`, `machines/${a.uuid}/user-data`, `pxelinux.cfg/01-${hyphens(MAC_A)}`, `grub/grub.cfg-01-${MAC_A}`];
  const bFiles = [`${hyphens(MAC_B)}.ipxe`, `machines/${b.uuid}/user-data`, `pxelinux.cfg/01-${hyphens(MAC_B)}`, `grub/grub.cfg-01-${MAC_B}`];
  const unknownFiles = ['default.ipxe', `${hyphens(MAC_UNKNOWN)}.ipxe`, 'pxelinux.cfg/default', 'grub/grub.cfg-default', 'user-data'];
  for (const p of aFiles) {
    const f = await get(p);
    t.equal(f.status, 200, `A's ${p} is served without credentials`);
    t.ok(f.text.includes(SECRET_A), `A's ${p} carries A's secure value`);
  }
  for (const p of bFiles) {
    const f = await get(p);
    t.equal(f.status, 200, `B's ${p} is served`);
    t.ok(f.text.includes(SECRET_B), `B's ${p} carries B's own value`);
    t.notOk(f.text.includes(SECRET_A), `B's ${p} never carries A's secure value`);
  }
  for (const p of unknownFiles) {
    const f = await get(p);
    // The value is withheld from unknown machines, so a template that needs it fails to render (500) rather than leak.
    t.ok(f.status === 200 || (f.status === 500 && f.text.includes('sec/root-password')), `unknown-machine file ${p}: ${f.status}`);
    t.notOk(f.text.includes(SECRET_A) || f.text.includes(SECRET_B) || f.text.includes(SECRET_GLOBAL), `unknown-machine file ${p} (${f.status}) carries no secure value`);
  }
  const bRendered = await d.send('GET', `/api/v1/machines/${b.uuid}/render?path=user-data`, admin);
  t.equal(bRendered.status, 200);
  t.notOk(bRendered.text.includes(SECRET_A), 'B rendered through the API: no A secret');

  // B's own machine token reads B, never A.
  const bToken = `Bearer ${((await d.send('POST', `/api/v1/machines/${b.uuid}/token`, { ...admin, body: {} })).body as { token: string }).token}`;
  for (const path of [`/api/v1/machines/${a.uuid}`, `/api/v1/machines/${a.uuid}/params`, `/api/v1/machines/${a.uuid}/params/sec%2Froot-password`, `/api/v1/machines/${a.uuid}/params?aggregate=true`]) {
    const res = await d.send('GET', path, { auth: bToken });
    t.equal(res.status, 403, `B's token: GET ${path} → 403`);
    t.notOk(res.text.includes(SECRET_A));
  }
  const bSelf = await d.send('GET', `/api/v1/machines/${b.uuid}/params?aggregate=true`, { auth: bToken });
  t.equal(bSelf.status, 200);
  t.notOk(bSelf.text.includes(SECRET_A), 'B\'s aggregate view holds no A secret');

  // Direct reads: admins and A's own token see A's value; read-only users (who may not render) never do.
  await d.send('POST', '/api/v1/users', { ...admin, body: { name: 'viewer', role: 'readonly', password: 'viewer-pass-1' } });
  const viewer = { auth: await d.userBearer('viewer', 'viewer-pass-1') };
  const aToken0 = `Bearer ${((await d.send('POST', `/api/v1/machines/${a.uuid}/token`, { ...admin, body: {} })).body as { token: string }).token}`;
  const direct = [`/api/v1/machines/${a.uuid}`, `/api/v1/machines/${a.uuid}/params`, `/api/v1/machines/${a.uuid}/params/sec%2Froot-password`, `/api/v1/machines/${a.uuid}/params?aggregate=true`];
  for (const path of direct) {
    const asAdmin = await d.send('GET', path, admin);
    t.ok(asAdmin.status === 200 && asAdmin.text.includes(SECRET_A), `admin: GET ${path} shows A's value`);
    const asOwn = await d.send('GET', path, { auth: aToken0 });
    t.ok(asOwn.status === 200 && asOwn.text.includes(SECRET_A), `A's own token: GET ${path} shows A's value`);
    const asViewer = await d.send('GET', path, viewer);
    t.equal(asViewer.status, 200, `readonly: GET ${path}`);
    t.notOk(asViewer.text.includes(SECRET_A), `readonly: GET ${path} shows no secure value`);
    t.ok(asViewer.text.includes('[secure]'), 'but says one is there');
  }
  for (const path of ['/api/v1/profiles/sec-prof', '/api/v1/profiles/sec-prof/params', '/api/v1/profiles/sec-prof/params/sec%2Froot-password']) {
    const asViewer = await d.send('GET', path, viewer);
    t.ok(asViewer.status === 200 && !asViewer.text.includes(SECRET_A) && asViewer.text.includes('[secure]'), `readonly: GET ${path} → [secure]`);
  }

  // A boot: A fetches its files (the HTTP boot events and the timeline see them), then calls back.
  const aToken = `Bearer ${((await d.send('POST', `/api/v1/machines/${a.uuid}/token`, { ...admin, body: {} })).body as { token: string }).token}`;
  t.equal((await d.send('POST', `/api/v1/machines/${a.uuid}/bootenv`, { auth: aToken, body: { bootenv: 'local' } })).status, 200);

  // Everything a user can read: lists, other objects, the timeline, info, metrics.
  const reads = [
    '/api/v1/machines', '/api/v1/machines?bootenv=local', '/api/v1/profiles', '/api/v1/params', '/api/v1/users', '/api/v1/prefs', '/api/v1/bootenvs',
    `/api/v1/machines/${b.uuid}`, `/api/v1/machines/${b.uuid}/params`, `/api/v1/machines/${b.uuid}/params?aggregate=true`, '/api/v1/profiles/global',
    '/api/v1/params/sec%2Froot-password', '/api/v1/bootenvs/sec-env', `/api/v1/machines/${a.uuid}/timeline`, `/api/v1/machines/${b.uuid}/timeline`,
    '/api/v1/info', '/api/v1/leases',
  ];
  for (const path of reads) {
    const res = await d.send('GET', path, admin);
    t.equal(res.status, 200, `GET ${path}`);
    t.notOk(res.text.includes(SECRET_A), `GET ${path} shows no secure value of A`);
  }
  const metrics = await fetch(`${d.daemon.url}/metrics`);
  t.equal(metrics.status, 200);
  t.notOk((await metrics.text()).includes(SECRET_A), '/metrics shows no secure value');

  // Give the stream a moment to deliver the last events, then read it.
  await d.send('POST', '/api/v1/events', { auth: aToken, body: { type: 'machines', action: 'marker', key: a.uuid } });
  for (let i = 0; i < 100 && !recorder.text().includes('"marker"'); i++) await new Promise((r) => setTimeout(r, 50));
  const events = await recorder.stop();
  t.ok(events.includes('"marker"'), 'the event stream was read to the end of the test');
  t.ok(events.includes('sec-a'), 'the stream saw machine A\'s changes');
  t.notOk(events.includes(SECRET_A), 'no event carries A\'s secure value');
  t.notOk(events.includes(SECRET_B), 'no event carries B\'s secure value');

  const log = d.logs.join('');
  t.ok(log.includes(a.uuid), 'the log mentions machine A (its boot-file fetches)');
  t.notOk(log.includes(SECRET_A), 'the log never holds A\'s secure value');
  t.notOk(log.includes(SECRET_B), 'the log never holds B\'s secure value');
});

t.test('password hashes, machine token secrets and the signing key are never returned or logged', async (t) => {
  const d = await startSecurityDaemon(t, { logLevel: 'trace', tftpEnabled: false, dhcpEnabled: false });
  const admin = { auth: d.adminAuth };
  const recorder = await recordEvents(t, d.daemon.url, d.adminAuth);

  const { services } = d.daemon;
  const created = await d.send('POST', '/api/v1/users', { ...admin, body: { name: 'carol', role: 'operator', password: 'carol-password-1' } });
  await d.send('PUT', '/api/v1/users/carol', { ...admin, body: { role: 'operator', password: 'carol-password-2' } });
  const m = (await d.send('POST', '/api/v1/machines', { ...admin, body: { name: 'tok-m', macs: ['52:54:00:5e:c1:01'] } })).body as Machine;
  await d.send('POST', `/api/v1/machines/${m.uuid}/rotate-token-secret`, admin);
  const token = ((await d.send('POST', `/api/v1/machines/${m.uuid}/token`, { ...admin, body: {} })).body as { token: string }).token;
  await fetch(`${d.daemon.url}/${'52-54-00-5e-c1-01'}.ipxe`);

  const carol = await services.users.getRaw('carol');
  const adminRaw = await services.users.getRaw('admin');
  const raw = await services.machines.resolveRaw(m.uuid);
  const key = readFileSync(join(d.config.dataDir, 'token.key'), 'utf8').trim();
  const secrets: Record<string, string> = {
    'carol\'s password hash': carol!.passwordHash,
    'admin\'s password hash': adminRaw!.passwordHash,
    'the machine token secret': raw.tokenSecret!,
    'the token signing key': key,
    'carol\'s password': 'carol-password-2',
  };
  const hashSalt = (h: string): string => h.split('$')[4]!;

  const bodies: string[] = [created.text];
  for (const path of ['/api/v1/users', '/api/v1/users/carol', '/api/v1/users/admin', '/api/v1/machines', `/api/v1/machines/${m.uuid}`, '/api/v1/info', `/api/v1/machines/${m.uuid}/timeline`, `/api/v1/machines/${m.uuid}/explain`]) {
    const res = await d.send('GET', path, admin);
    t.equal(res.status, 200, `GET ${path}`);
    bodies.push(res.text);
  }
  bodies.push((await d.send('GET', `/api/v1/machines/${m.uuid}`, { auth: `Bearer ${token}` })).text);
  bodies.push((await d.send('POST', '/api/v1/users/carol/revoke-tokens', admin)).text);
  bodies.push(await (await fetch(`${d.daemon.url}/metrics`)).text());
  await new Promise((r) => setTimeout(r, 200));
  const events = await recorder.stop();
  t.ok(events.includes('carol'), 'the stream saw the user changes');

  const all = { responses: bodies.join('\n'), events, log: d.logs.join('') };
  for (const [where, text] of Object.entries(all)) {
    for (const [what, secret] of Object.entries(secrets)) t.notOk(text.includes(secret), `${what} never appears in ${where}`);
    t.notOk(text.includes(hashSalt(carol!.passwordHash)), `no part of a password hash in ${where}`);
    t.notMatch(text, /scrypt\$/, `no scrypt hash at all in ${where}`);
  }
  for (const u of JSON.parse(bodies[1]!) as Record<string, unknown>[]) t.same(Object.keys(u).sort(), ['createdAt', 'description', 'name', 'role', 'updatedAt', 'version'], `user ${String(u.name)} lists only public fields`);
  t.notOk('tokenSecret' in (JSON.parse(bodies[5]!) as object), 'a machine shows no tokenSecret field');
});
