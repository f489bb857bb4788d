import { createServer } from 'node:net';
import t from 'tap';
import { cli, cliJson, cliProcess, startLive } from './helpers/live.js';

const live = await startLive(t);

t.test('validation errors exit 1 and print the message and the failing field', async (t) => {
  const badMac = await cli(live, ['machines', 'create', '{"name":"web1","macs":["zz:zz:zz:zz:zz:zz"]}']);
  t.equal(badMac.code, 1);
  t.equal(badMac.stdout, '');
  t.match(badMac.stderr, /^Error: machine "web1": .+\(VALIDATION, HTTP 422\)\n/);
  t.match(badMac.stderr, /\n {2}\/?macs\/0: "zz:zz:zz:zz:zz:zz" is not a MAC address/, 'the field error names macs/0');

  const unknownField = await cli(live, ['machines', 'create', 'name: web1\nbogus: 1\n']);
  t.equal(unknownField.code, 1);
  t.match(unknownField.stderr, /\n {2}\/bogus: is not a known field/);

  const badRange = await cli(live, [
    'subnets',
    'create',
    'name: lab\ncidr: 10.10.0.0/24\nactiveStart: 10.10.1.5\nactiveEnd: 10.10.0.200\n',
  ]);
  t.equal(badRange.code, 1);
  t.match(badRange.stderr, /\n {2}activeStart: 10\.10\.1\.5 is outside 10\.10\.0\.0\/24/);
});

t.test('conflicts name what is in the way', async (t) => {
  const dupMachine = await cliJson<{ uuid: string }>(t, live, ['machines', 'create', '{"name":"dup","macs":["52:54:00:dd:00:01"]}']);
  const dup = await cli(live, ['machines', 'create', '{"name":"dup","macs":["52:54:00:dd:00:02"]}']);
  t.equal(dup.code, 1);
  t.match(dup.stderr, /CONFLICT, HTTP 409/);
  t.match(dup.stderr, /name|dup/);

  await cliJson(t, live, ['profiles', 'create', '{"name":"in-use"}']);
  await cliJson(t, live, ['machines', 'patch', 'name:dup', '{"profiles":["in-use"]}']);
  const inUse = await cli(live, ['profiles', 'delete', 'in-use']);
  t.equal(inUse.code, 1);
  t.match(inUse.stderr, /CONFLICT, HTTP 409/);
  t.ok(inUse.stderr.includes(dupMachine.uuid), 'names the machine using the profile');
});

t.test('a missing object exits 1 with a 404 message naming it', async (t) => {
  const res = await cli(live, ['subnets', 'show', 'nowhere']);
  t.equal(res.code, 1);
  t.match(res.stderr, /nowhere/);
  t.match(res.stderr, /NOT_FOUND, HTTP 404/);
});

t.test('bad or missing credentials exit 1 with the 401 and a hint', async (t) => {
  const wrong = await cli(live, ['machines', 'list'], { env: { FARRIER_PASSWORD: 'wrong-password' } });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /UNAUTHORIZED, HTTP 401/);
  t.match(wrong.stderr, /give credentials with -U\/-P, -T/);

  const none = await cli(live, ['machines', 'list'], { env: { FARRIER_USER: undefined, FARRIER_PASSWORD: undefined } });
  t.equal(none.code, 1);
  t.match(none.stderr, /HTTP 401/);

  const flags = await cli(live, ['-U', 'admin', '-P', 'wrong-again', 'subnets', 'list'], {
    env: { FARRIER_USER: undefined, FARRIER_PASSWORD: undefined },
  });
  t.equal(flags.code, 1, '-U/-P are used');
  t.match(flags.stderr, /HTTP 401/);

  const badToken = await cli(live, ['-T', 'not-a-token', 'subnets', 'list']);
  t.equal(badToken.code, 1, 'a token takes precedence over the user and password');
  t.match(badToken.stderr, /HTTP 401/);
});

t.test('a read-only user can list but a write exits 1 with the 403', async (t) => {
  const user = await cliJson<Record<string, unknown>>(t, live, [
    'users',
    'create',
    '{"name":"viewer","role":"readonly","password":"viewer-password-1"}',
  ]);
  t.match(user, { name: 'viewer', role: 'readonly' });
  t.notOk('password' in user || 'passwordHash' in user, 'the password is write-only');
  const asViewer = { env: { FARRIER_USER: 'viewer', FARRIER_PASSWORD: 'viewer-password-1' } };
  const list = await cli(live, ['subnets', 'list', '-o', 'json'], asViewer);
  t.equal(list.code, 0, list.stderr);
  const write = await cli(live, ['subnets', 'create', '{"name":"x","cidr":"10.30.0.0/24"}'], asViewer);
  t.equal(write.code, 1);
  t.match(write.stderr, /FORBIDDEN, HTTP 403/);
});

t.test('an endpoint with nothing listening exits 3 and suggests farrier serve', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const res = await cliProcess({ endpoint }, ['machines', 'list']);
  t.equal(res.code, 3, 'the process exit status');
  t.equal(res.stdout, '');
  t.ok(res.stderr.includes(`cannot connect to the Farrier daemon at ${endpoint}`), res.stderr);
  t.match(res.stderr, /farrier serve/);
});

t.test('farrier --help from the real binary exits 0', async (t) => {
  const res = await cliProcess(live, ['--help']);
  t.equal(res.code, 0);
  t.match(res.stdout, /^Usage: farrier \[options\] \[command\]/);
  t.match(res.stdout, /\nExamples:\n/);
});
