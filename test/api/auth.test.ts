import t from 'tap';
import { basic, makeHarness } from './harness.js';

interface Tok { token: string; expiresAt: string }

t.test('401 without or with bad credentials, 403 when lacking the right', async (t) => {
  const { api, logs } = await makeHarness(t);
  const none = await api('GET', '/api/v1/machines', { as: 'none' });
  t.equal(none.status, 401);
  t.match(none.body, { code: 'UNAUTHORIZED' });
  t.match(none.headers['www-authenticate'], /Basic/);
  const wrong = await api('GET', '/api/v1/machines', { as: 'none', headers: { authorization: basic('admin', 'wrong-password') } });
  t.equal(wrong.status, 401);
  const junk = await api('GET', '/api/v1/machines', { as: 'none', headers: { authorization: 'Digest abc' } });
  t.equal(junk.status, 401);
  const badToken = await api('GET', '/api/v1/machines', { token: 'abc.def' });
  t.equal(badToken.status, 401);
  t.equal((await api('GET', '/api/v1/info', { as: 'none' })).status, 200, 'info needs no auth');

  t.equal((await api('GET', '/api/v1/machines', { as: 'reader' })).status, 200, 'readonly may read');
  const roWrite = await api('POST', '/api/v1/machines', { as: 'reader', body: { name: 'x' } });
  t.equal(roWrite.status, 403);
  t.match(roWrite.body, { code: 'FORBIDDEN', message: /readonly/ });
  t.equal((await api('POST', '/api/v1/machines', { as: 'operator', body: { name: 'x' } })).status, 201, 'operator may write');
  const opUsers = await api('GET', '/api/v1/users', { as: 'operator' });
  t.equal(opUsers.status, 403, 'operators do not manage users');
  t.equal((await api('GET', '/api/v1/users', { as: 'reader' })).status, 403);
  const users = await api('GET', '/api/v1/users');
  t.equal(users.status, 200);
  for (const u of users.body as Record<string, unknown>[]) {
    t.notOk('passwordHash' in u || 'password' in u || 'tokenGen' in u, `user ${String(u.name)} shows no secret`);
  }
  t.notMatch(logs.join(''), /wrong-password|admin-pass-1/, 'passwords never logged');
  t.notMatch(logs.join(''), /Basic [A-Za-z0-9+/=]{8,}/, 'Authorization never logged');
});

t.test('users: create, password write-only, last admin, revoke tokens', async (t) => {
  const { api } = await makeHarness(t);
  const short = await api('POST', '/api/v1/users', { body: { name: 'bob', role: 'operator', password: 'short' } });
  t.equal(short.status, 422);
  t.match(short.body, { fieldErrors: [{ field: '/password' }] });
  t.equal((await api('POST', '/api/v1/users', { body: { name: 'bob', role: 'operator' } })).status, 422, 'password required on create');
  const bob = await api('POST', '/api/v1/users', { body: { name: 'bob', role: 'operator', password: 'bob-password' } });
  t.equal(bob.status, 201);
  t.same(Object.keys(bob.body as object).sort(), ['createdAt', 'description', 'name', 'role', 'updatedAt', 'version']);
  const bobAuth = { as: 'none' as const, headers: { authorization: basic('bob', 'bob-password') } };
  t.equal((await api('POST', '/api/v1/machines', { ...bobAuth, body: { name: 'bm' } })).status, 201);
  await api('PATCH', '/api/v1/users/bob', { body: { password: 'bob-password-2' }, contentType: 'application/merge-patch+json' });
  t.equal((await api('GET', '/api/v1/machines', bobAuth)).status, 401, 'old password no longer works');
  const tok = await api('POST', '/api/v1/tokens', { as: 'none', headers: { authorization: basic('bob', 'bob-password-2') } });
  t.equal(tok.status, 201);
  const { token, expiresAt } = tok.body as Tok;
  t.ok(Date.parse(expiresAt) > Date.now());
  t.equal((await api('GET', '/api/v1/machines', { token })).status, 200, 'bearer token works');
  const ttl = await api('POST', '/api/v1/tokens', { body: { ttl: 120 } });
  t.ok(Date.parse((ttl.body as Tok).expiresAt) - Date.now() <= 121_000, 'ttl honoured');
  t.equal((await api('POST', '/api/v1/users/bob/revoke-tokens')).status, 200);
  t.equal((await api('GET', '/api/v1/machines', { token })).status, 401, 'revoked token refused');
  await api('PUT', '/api/v1/users/bob', { body: { role: 'readonly' } });
  const demoted = await api('POST', '/api/v1/machines', { as: 'none', headers: { authorization: basic('bob', 'bob-password-2') }, body: { name: 'bm2' } });
  t.equal(demoted.status, 403, 'role change takes effect at once');
  const lastAdmin = await api('DELETE', '/api/v1/users/admin');
  t.equal(lastAdmin.status, 409);
  t.match(lastAdmin.body, { message: /last admin/ });
  t.equal((await api('PATCH', '/api/v1/users/admin', { body: { role: 'operator' }, contentType: 'application/merge-patch+json' })).status, 409);
  t.equal((await api('DELETE', '/api/v1/users/bob')).status, 200);
  t.equal((await api('GET', '/api/v1/users/bob')).status, 404);
});

t.test('password attempts are rate-limited per user and address', async (t) => {
  const { api } = await makeHarness(t);
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await api('GET', '/api/v1/prefs', { as: 'none', headers: { authorization: basic('operator', 'bad-guess') } })).status);
  t.same(statuses.slice(0, 10), Array(10).fill(401));
  t.equal(statuses[10], 429);
  const right = await api('GET', '/api/v1/prefs', { as: 'operator' });
  t.equal(right.status, 429, 'even the right password waits out the window');
  t.match(right.headers['retry-after'], /^\d+$/);
  t.equal((await api('GET', '/api/v1/prefs', { as: 'reader' })).status, 200, 'other users unaffected');
});

t.test('machine tokens: own machine only, revoked by rotating the secret', async (t) => {
  const { api, services } = await makeHarness(t);
  const m1 = (await api('POST', '/api/v1/machines', { body: { name: 'mt1', macs: ['52:54:00:00:01:01'] } })).body as { uuid: string };
  const m2 = (await api('POST', '/api/v1/machines', { body: { name: 'mt2' } })).body as { uuid: string };
  const minted = await api('POST', `/api/v1/machines/${m1.uuid}/token`, { body: { ttl: 600 } });
  t.equal(minted.status, 201);
  const token = (minted.body as Tok).token;
  t.equal((await api('GET', `/api/v1/machines/${m1.uuid}`, { token })).status, 200, 'reads itself');
  t.equal((await api('GET', '/api/v1/machines/mac:52-54-00-00-01-01', { token })).status, 200, 'by any key form');
  t.equal((await api('GET', `/api/v1/machines/${m2.uuid}`, { token })).status, 403, 'not another machine');
  t.equal((await api('GET', '/api/v1/machines', { token })).status, 403, 'cannot list');
  t.equal((await api('GET', '/api/v1/subnets', { token })).status, 403);
  t.equal((await api('PUT', `/api/v1/machines/${m1.uuid}`, { token, body: { name: 'mt1' } })).status, 403, 'cannot replace itself');
  t.equal((await api('POST', `/api/v1/machines/${m1.uuid}/bootenv`, { token, payload: 'bootenv=local', contentType: 'application/x-www-form-urlencoded' })).status, 200, 'sets its own bootenv');
  t.equal((await api('POST', `/api/v1/machines/${m2.uuid}/bootenv`, { token, body: { bootenv: 'local' } })).status, 403);
  t.same((await api('PUT', `/api/v1/machines/${m1.uuid}/params/stage`, { token, body: 'installed' })).body, 'installed', 'sets its own params');
  t.equal((await api('PATCH', `/api/v1/machines/${m1.uuid}/params`, { token, body: { x: 1 }, contentType: 'application/merge-patch+json' })).status, 200);
  t.equal((await api('GET', `/api/v1/machines/${m1.uuid}/params?aggregate=true`, { token })).status, 200);
  t.equal((await api('POST', '/api/v1/events', { token, body: { type: 'machines', action: 'installed', key: m1.uuid } })).status, 202, 'posts events for itself');
  t.equal((await api('POST', '/api/v1/events', { token, body: { type: 'machines', action: 'x', key: m2.uuid } })).status, 403);
  t.equal((await api('POST', '/api/v1/tokens', { token })).status, 403, 'machines get no user tokens');
  const viaService = services.tokens.mintMachineToken((await services.machines.resolveRaw(m1.uuid)), 60);
  t.equal((await api('GET', `/api/v1/machines/${m1.uuid}`, { token: viaService.token })).status, 200, 'tokens.mintMachineToken for boot templates');
  t.equal((await api('POST', `/api/v1/machines/${m1.uuid}/rotate-token-secret`)).status, 200);
  t.equal((await api('GET', `/api/v1/machines/${m1.uuid}`, { token })).status, 401, 'rotated secret revokes the token');
  t.equal((await api('GET', `/api/v1/machines/${m1.uuid}`, { token: viaService.token })).status, 401);
  t.equal((await api('POST', `/api/v1/machines/${m1.uuid}/token`, { as: 'reader' })).status, 403, 'readonly users cannot mint');
});
