import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decide } from '../../src/auth/access.js';
import { hashPassword, verifyPassword } from '../../src/auth/password.js';
import { PasswordThrottle } from '../../src/auth/rateLimit.js';
import { loadOrCreateTokenKey, signToken, verifyToken } from '../../src/auth/tokens.js';
import { tempDir } from '../helpers/env.js';

t.test('token key: created 0600 once, reused after', async (t) => {
  const dir = tempDir(t);
  const k1 = await loadOrCreateTokenKey(dir);
  t.equal(k1.length, 32);
  t.equal(statSync(join(dir, 'token.key')).mode & 0o777, 0o600);
  const k2 = await loadOrCreateTokenKey(dir);
  t.ok(k1.equals(k2), 'same key on restart');
});

t.test('signed tokens: tampering, wrong key, expiry', async (t) => {
  const key = Buffer.alloc(32, 1);
  const exp = Math.floor(Date.now() / 1000) + 60;
  const tok = signToken(key, { sub: 'alice', scope: 'user', role: 'admin', exp, gen: '0' });
  t.match(verifyToken(key, tok), { sub: 'alice', scope: 'user', gen: '0' });
  t.equal(verifyToken(Buffer.alloc(32, 2), tok), undefined, 'wrong key');
  const [payload, sig] = tok.split('.');
  const forged = Buffer.from(JSON.stringify({ sub: 'alice', scope: 'user', role: 'admin', exp: exp + 1e6, gen: '0' })).toString('base64url');
  t.equal(verifyToken(key, `${forged}.${sig}`), undefined, 'changed claims');
  t.equal(verifyToken(key, `${payload}.${sig!.slice(0, -2)}`), undefined, 'truncated signature');
  t.equal(verifyToken(key, 'garbage'), undefined);
  t.equal(verifyToken(key, tok, (exp + 1) * 1000), undefined, 'expired');
});

t.test('scrypt password hashes', async (t) => {
  const h = await hashPassword('correct horse');
  t.match(h, /^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
  t.notOk(h.includes('correct horse'));
  t.equal(await verifyPassword('correct horse', h), true);
  t.equal(await verifyPassword('wrong horse', h), false);
  t.not(await hashPassword('correct horse'), h, 'salted');
  t.equal(await verifyPassword('x', 'plain-text'), false, 'unknown format refused');
});

t.test('throttle per user and address', async (t) => {
  const th = new PasswordThrottle(3, 1000);
  for (let i = 0; i < 3; i++) th.fail('bob', '10.0.0.1', 0);
  t.ok(th.retryAfter('bob', '10.0.0.1', 10) > 0);
  t.equal(th.retryAfter('bob', '10.0.0.2', 10), 0, 'other address');
  t.equal(th.retryAfter('eve', '10.0.0.1', 10), 0, 'other user');
  t.equal(th.retryAfter('bob', '10.0.0.1', 1000), 0, 'window passed');
  th.fail('amy', 'x', 0);
  th.succeed('amy', 'x');
  th.fail('amy', 'x', 0);
  th.fail('amy', 'x', 0);
  t.equal(th.retryAfter('amy', 'x', 1), 0, 'success resets');
});

t.test('access decisions', async (t) => {
  const user = (role: 'admin' | 'operator' | 'readonly') => ({ kind: 'user' as const, name: 'u', role, via: 'token' as const });
  const machine = { kind: 'machine' as const, uuid: 'm1' };
  t.match(decide(user('readonly'), { path: '/machines', method: 'GET' }, {}), { allow: true });
  t.match(decide(user('readonly'), { path: '/machines', method: 'POST' }, {}), { allow: false });
  t.match(decide(user('readonly'), { path: '/tokens', method: 'POST', anyUser: true }, {}), { allow: true });
  t.match(decide(user('operator'), { path: '/users/{name}', method: 'GET' }, {}), { allow: false });
  t.match(decide(user('operator'), { path: '/subnets', method: 'POST' }, {}), { allow: true });
  t.match(decide(user('admin'), { path: '/users', method: 'POST' }, {}), { allow: true });
  t.match(decide(machine, { path: '/machines/{key}', method: 'GET', machine: true }, { key: 'x' }), { allow: true, ownMachineKey: 'x' });
  t.match(decide(machine, { path: '/machines', method: 'GET' }, {}), { allow: false });
});

t.test('throttle per address across names', async (t) => {
  const th = new PasswordThrottle(3, 1000, 100, 5);
  for (let i = 0; i < 5; i++) th.fail(`user-${i}`, '10.0.0.9', 0);
  t.ok(th.retryAfter('anyone', '10.0.0.9', 10) > 0, 'five names failed once each: the address is refused');
  t.equal(th.retryAfter('anyone', '10.0.0.8', 10), 0, 'other addresses are not');
  th.succeed('user-0', '10.0.0.9');
  t.ok(th.retryAfter('user-0', '10.0.0.9', 10) > 0, 'a success does not clear the address count');
  t.equal(th.retryAfter('anyone', '10.0.0.9', 1000), 0, 'until the window has passed');
});
