/**
 * Token signing key rotation: `farrier tokens rotate-key` against a whole daemon (old user and machine
 * tokens work during the grace period and fail after it, new tokens carry the new key, the key file stays
 * 0600), and the keyring itself across a restart (a reload of the key file) with a clock.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadTokenKeyring, verifyToken } from '../../src/auth/tokens.js';
import { cli } from '../cli/helpers/live.js';
import { tempDir } from '../helpers/env.js';
import { ADMIN_PASSWORD, startSecurityDaemon } from './helpers.js';

const keyLines = (dataDir: string): string[] => readFileSync(join(dataDir, 'token.key'), 'utf8').trim().split('\n');
const mode = (dataDir: string): number => statSync(join(dataDir, 'token.key')).mode & 0o777;

t.test('rotate-key over the CLI: old tokens work for the grace period, then only new ones', async (t) => {
  const d = await startSecurityDaemon(t, { tftpEnabled: false, dhcpEnabled: false });
  const dataDir = d.config.dataDir;
  const before = keyLines(dataDir);
  t.equal(before.length, 1, 'a fresh data dir holds one key');
  t.equal(mode(dataDir), 0o600);
  const userOld = await d.userBearer('admin', ADMIN_PASSWORD);
  const m = (await d.send('POST', '/api/v1/machines', { auth: d.adminAuth, body: { name: 'rot-m' } })).body as { uuid: string };
  const machineOld = `Bearer ${((await d.send('POST', `/api/v1/machines/${m.uuid}/token`, { auth: d.adminAuth, body: {} })).body as { token: string }).token}`;

  const env = { FARRIER_USER: 'admin', FARRIER_PASSWORD: ADMIN_PASSWORD };
  const denied = await cli({ endpoint: d.daemon.url }, ['tokens', 'rotate-key'], { env: { FARRIER_USER: undefined, FARRIER_PASSWORD: undefined, FARRIER_TOKEN: 'not-a-token' } });
  t.not(denied.code, 0, 'a bad credential cannot rotate');
  t.same(keyLines(dataDir), before, 'and the key file is untouched');

  const out = await cli({ endpoint: d.daemon.url }, ['tokens', 'rotate-key', '--grace', '2', '-o', 'json'], { env });
  t.equal(out.code, 0, out.stderr);
  const rotation = JSON.parse(out.stdout) as { rotatedAt: string; previousKeyValidUntil: string };
  const graceEnd = Date.parse(rotation.previousKeyValidUntil);
  t.ok(graceEnd > Date.now(), `grace runs until ${rotation.previousKeyValidUntil}`);

  const after = keyLines(dataDir);
  t.equal(mode(dataDir), 0o600, 'the rewritten key file is 0600');
  t.not(after[0], before[0], 'a new current key');
  t.match(after[1], new RegExp(`^previous ${before[0]} \\d+$`), 'the old key is kept for the grace period');

  t.equal((await d.send('GET', '/api/v1/machines', { auth: userOld })).status, 200, 'an old user token works during the grace period');
  t.equal((await d.send('GET', `/api/v1/machines/${m.uuid}`, { auth: machineOld })).status, 200, 'an old machine token works during the grace period');
  const userNew = await d.userBearer('admin', ADMIN_PASSWORD);
  const newKey = Buffer.from(after[0]!, 'base64url');
  const oldKey = Buffer.from(before[0]!, 'base64url');
  t.ok(verifyToken(newKey, userNew.slice(7)), 'a new token is signed with the new key');
  t.notOk(verifyToken(oldKey, userNew.slice(7)), 'and not with the old one');

  // Wait out the grace period (2 s), then the old tokens are refused.
  await new Promise((r) => setTimeout(r, Math.max(0, graceEnd - Date.now()) + 100));
  t.equal((await d.send('GET', '/api/v1/machines', { auth: userOld })).status, 401, 'the old user token fails after the grace period');
  t.equal((await d.send('GET', `/api/v1/machines/${m.uuid}`, { auth: machineOld })).status, 401, 'the old machine token fails after it');
  t.equal((await d.send('GET', '/api/v1/machines', { auth: userNew })).status, 200, 'the new token keeps working');

  const operator = await d.send('POST', '/api/v1/users', { auth: d.adminAuth, body: { name: 'op', role: 'operator', password: 'operator-pass' } });
  t.equal(operator.status, 201);
  const byOperator = await cli({ endpoint: d.daemon.url }, ['tokens', 'rotate-key'], { env: { FARRIER_USER: 'op', FARRIER_PASSWORD: 'operator-pass' } });
  t.not(byOperator.code, 0, 'operators may not rotate the key');
  t.match(byOperator.stderr, /only admins rotate/);

  const now = await cli({ endpoint: d.daemon.url }, ['tokens', 'rotate-key', '--grace', '0', '-o', 'json'], { env });
  t.equal(now.code, 0, now.stderr);
  t.equal((await d.send('GET', '/api/v1/machines', { auth: userNew })).status, 401, '--grace 0 revokes every token at once');
});

t.test('keyring: grace by the clock, survives a reload, a second rotation keeps the first grace', async (t) => {
  const dir = tempDir(t);
  const ring = await loadTokenKeyring(dir, 3600);
  const t0 = Date.now();
  const claims = { sub: 'alice', scope: 'user' as const, role: 'admin' as const, gen: '0', exp: Math.floor(t0 / 1000) + 86_400 };
  const first = ring.sign(claims);
  const r1 = await ring.rotate(undefined, t0);
  t.equal(Date.parse(r1.previousKeyValidUntil), (Math.floor(t0 / 1000) + 3600) * 1000, 'the default grace is the configured one');
  const second = ring.sign(claims);
  t.ok(ring.verify(first, t0 + 3_000_000), 'the first key verifies inside its grace');
  await ring.rotate(600, t0 + 1000);
  const reloaded = await loadTokenKeyring(dir, 3600);
  t.equal(mode(dir), 0o600);
  t.equal(keyLines(dir).length, 3, 'current key and two previous keys');
  t.ok(reloaded.verify(first, t0 + 3_000_000), 'after a reload, the first key still has its own grace (not cut by the second rotation)');
  t.ok(reloaded.verify(second, t0 + 500_000), 'the second key verifies inside its 600 s');
  t.notOk(reloaded.verify(second, t0 + 602_000), 'and not after');
  t.notOk(reloaded.verify(first, t0 + 3_601_000), 'the first key is refused after its grace');
  t.ok(reloaded.verify(reloaded.sign(claims), t0 + 3_601_000), 'the current key always verifies');
  await reloaded.rotate(60, t0 + 4_000_000);
  t.equal(keyLines(dir).length, 2, 'keys past their grace are dropped from the file at the next rotation');
});
