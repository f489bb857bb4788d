/**
 * Password attempts against a whole daemon over real HTTP, from distinct loopback source addresses
 * (127.0.0.x, all local on Linux): a user's failures lock out that user at that address only, with
 * Retry-After; spraying many names from one address locks out that address; unknown users and wrong
 * passwords are indistinguishable.
 */
import { request } from 'node:http';
import t from 'tap';
import { ADMIN_PASSWORD, basic, startSecurityDaemon } from './helpers.js';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { code?: string; message?: string };
}

t.test('password throttle: per user and address, per address across names, Retry-After', async (t) => {
  const d = await startSecurityDaemon(t, { tftpEnabled: false, dhcpEnabled: false });
  const port = Number(new URL(d.daemon.url).port);
  const from = (localAddress: string, auth: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/prefs', localAddress, headers: { authorization: auth } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: JSON.parse(text) as Answer['body'] }));
      });
      req.on('error', reject);
      req.end();
    });
  await d.send('POST', '/api/v1/users', { auth: d.adminAuth, body: { name: 'operator', role: 'operator', password: 'operator-pass' } });
  await d.send('POST', '/api/v1/users', { auth: d.adminAuth, body: { name: 'reader', role: 'readonly', password: 'reader-pass' } });
  const operatorToken = await d.userBearer('operator', 'operator-pass');

  const wrong = await from('127.0.0.1', basic('operator', 'bad-guess'));
  const unknown = await from('127.0.0.1', basic('nobody-here', 'bad-guess'));
  t.equal(wrong.status, 401);
  t.equal(unknown.status, 401);
  t.equal(unknown.body.message, wrong.body.message, 'an unknown user and a wrong password get the same answer');

  const statuses = [wrong.status];
  for (let i = 1; i < 10; i++) statuses.push((await from('127.0.0.1', basic('operator', 'bad-guess'))).status);
  t.same(statuses, Array(10).fill(401), '10 wrong passwords: 401 each');
  const locked = await from('127.0.0.1', basic('operator', 'bad-guess'));
  t.equal(locked.status, 429, 'the 11th attempt is refused');
  t.equal(locked.body.code, 'TOO_MANY_REQUESTS');
  const wait = Number(locked.retryAfter);
  t.ok(Number.isInteger(wait) && wait > 0 && wait <= 300, `Retry-After: ${String(locked.retryAfter)} s`);
  t.equal((await from('127.0.0.1', basic('operator', 'operator-pass'))).status, 429, 'even the right password waits at that address');
  t.equal((await from('127.0.0.1', basic('reader', 'reader-pass'))).status, 200, 'another user at the same address is unaffected');
  t.equal((await from('127.0.0.2', basic('operator', 'operator-pass'))).status, 200, 'the same user from another address is unaffected');
  t.equal((await d.send('GET', '/api/v1/prefs', { auth: operatorToken })).status, 200, 'the user\'s existing token keeps working');

  // Spraying: 100 names, one wrong guess each (far below the per-user bound), from one address.
  for (let i = 0; i < 100; i++) {
    const res = await from('127.0.0.3', basic(`spray-${i}`, 'Winter2026!'));
    if (res.status !== 401) {
      t.fail(`spray attempt ${i}: ${res.status}`);
      break;
    }
  }
  const sprayed = await from('127.0.0.3', basic('admin', ADMIN_PASSWORD));
  t.equal(sprayed.status, 429, 'after 100 failures across names the address is refused for every name');
  t.ok(Number(sprayed.retryAfter) > 0, 'with Retry-After');
  t.equal((await from('127.0.0.4', basic('admin', ADMIN_PASSWORD))).status, 200, 'other addresses are unaffected');
});
