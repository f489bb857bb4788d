import { spawn } from 'node:child_process';
import t from 'tap';
import type { Machine } from '../../src/model/types.js';
import { ADMIN_PASSWORD, builtCli, cli, cliJson, startLive } from './helpers/live.js';

const live = await startLive(t);

await cliJson(t, live, ['params', 'create', '{"name":"rack","schema":{"type":"string","pattern":"^r[0-9]+$"}}']);
await cliJson(t, live, ['params', 'create', '{"name":"ntp-server","schema":{"type":"string","default":"pool.ntp.org"}}']);
await cliJson(t, live, ['params', 'create', '{"name":"disk-count","schema":{"type":"integer","default":1}}']);
await cliJson(t, live, ['profiles', 'create', '{"name":"rack4","params":{"ntp-server":"10.0.4.1"}}']);
const web = await cliJson<Machine>(t, live, [
  'machines',
  'create',
  '{"name":"web1","macs":["52:54:00:cc:00:01"],"profiles":["rack4"]}',
]);

t.test('machines bootenv assigns a bootenv and reports missing required params', async (t) => {
  await cliJson(t, live, [
    'bootenvs',
    'create',
    JSON.stringify({ name: 'racked-install', os: { name: 'test-os' }, requiredParams: ['rack'] }),
  ]);
  const refused = await cli(live, ['machines', 'bootenv', 'name:web1', 'racked-install']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /VALIDATION, HTTP 422/);
  t.match(refused.stderr, /rack/, 'the message names the missing param');

  const set = await cli(live, ['machines', 'param', 'set', 'name:web1', 'rack', 'r4', '-o', 'json']);
  t.equal(set.code, 0, set.stderr);
  t.equal(JSON.parse(set.stdout), 'r4');

  const assigned = await cliJson<Machine>(t, live, ['machines', 'bootenv', `mac:52:54:00:cc:00:01`, 'racked-install']);
  t.equal(assigned.bootenv, 'racked-install');
  t.equal(assigned.uuid, web.uuid);
  const back = await cliJson<Machine>(t, live, ['machines', 'bootenv', web.uuid, 'local']);
  t.equal(back.bootenv, 'local');
});

t.test('machine params: get, set (JSON or string), delete, and the aggregate view with sources', async (t) => {
  const bad = await cli(live, ['machines', 'param', 'set', 'name:web1', 'rack', 'shelf-2']);
  t.equal(bad.code, 1, 'a value failing the param schema is refused');
  t.match(bad.stderr, /rack/);

  const count = await cli(live, ['machines', 'param', 'set', 'name:web1', 'disk-count', '2', '-o', 'json']);
  t.equal(count.code, 0, count.stderr);
  t.equal(JSON.parse(count.stdout), 2, 'numbers are sent as JSON numbers');

  const got = await cli(live, ['machines', 'param', 'get', 'name:web1', 'rack', '-o', 'table']);
  t.equal(got.stdout, 'r4\n', 'table output prints a bare value');

  const own = await cliJson<Record<string, unknown>>(t, live, ['machines', 'params', 'name:web1']);
  t.same(own, { rack: 'r4', 'disk-count': 2 });

  const agg = await cliJson<Record<string, { value: unknown; source: string }>>(t, live, [
    'machines',
    'params',
    'name:web1',
    '--aggregate',
  ]);
  t.match(agg, {
    rack: { value: 'r4', source: 'machine' },
    'disk-count': { value: 2, source: 'machine' },
    'ntp-server': { value: '10.0.4.1', source: 'profile:rack4' },
  });

  await cliJson(t, live, ['machines', 'param', 'delete', 'name:web1', 'disk-count']);
  const table = await cli(live, ['machines', 'params', 'name:web1', '--aggregate', '-o', 'table']);
  t.equal(table.code, 0);
  t.match(table.stdout, /^NAME\s+VALUE\s+SOURCE\n/);
  t.match(table.stdout, /\ndisk-count\s+1\s+default\n/, 'after delete the schema default shows through');
  t.match(table.stdout, /\nntp-server\s+10\.0\.4\.1\s+profile:rack4\n/);

  const replaced = await cliJson(t, live, ['machines', 'params', 'name:web1', '{"rack":"r5"}']);
  t.same(replaced, { rack: 'r5' });
});

t.test('profile params through the same helpers', async (t) => {
  await cliJson(t, live, ['profiles', 'param', 'set', 'rack4', 'ntp-server', '10.0.4.2']);
  const params = await cliJson(t, live, ['profiles', 'params', 'rack4']);
  t.same(params, { 'ntp-server': '10.0.4.2' });
  const agg = await cliJson<Record<string, { value: unknown; source: string }>>(t, live, [
    'machines',
    'params',
    'name:web1',
    '--aggregate',
  ]);
  t.match(agg['ntp-server'], { value: '10.0.4.2', source: 'profile:rack4' });
});

t.test('prefs get and set', async (t) => {
  const prefs = await cliJson<Record<string, unknown>>(t, live, ['prefs', 'get']);
  t.match(prefs, { defaultBootEnv: 'local', unknownBootEnv: 'ignore' });

  const set = await cliJson<Record<string, unknown>>(t, live, ['prefs', 'set', 'unknownBootEnv=discovery']);
  t.equal(set.unknownBootEnv, 'discovery');
  const one = await cli(live, ['prefs', 'get', 'unknownBootEnv', '-o', 'table']);
  t.equal(one.stdout, 'discovery\n');

  const bad = await cli(live, ['prefs', 'set', 'defaultBootEnv=no-such-env']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /defaultBootEnv/);
  t.match(bad.stderr, /no-such-env/);

  const usage = await cli(live, ['prefs', 'set', 'defaultBootEnv']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /expected a pref as key=value/);
});

t.test('tokens create gives a bearer token the CLI can use instead of a password', async (t) => {
  const tok = await cliJson<{ token: string; expiresAt: string }>(t, live, ['tokens', 'create', '--ttl', '600']);
  t.type(tok.token, 'string');
  t.ok(Date.parse(tok.expiresAt) > Date.now());
  const bare = await cli(live, ['tokens', 'create', '-o', 'table']);
  t.match(bare.stdout, /^\S+\n$/, 'table output is just the token');

  const withToken = await cli(live, ['machines', 'show', 'name:web1', '-o', 'json'], {
    env: { FARRIER_USER: undefined, FARRIER_PASSWORD: undefined },
  });
  t.equal(withToken.code, 1, 'no credentials at all: refused');
  const ok = await cli(live, ['-T', tok.token, 'machines', 'show', 'name:web1', '-o', 'json'], {
    env: { FARRIER_USER: undefined, FARRIER_PASSWORD: undefined },
  });
  t.equal(ok.code, 0, ok.stderr);
  t.equal((JSON.parse(ok.stdout) as Machine).uuid, web.uuid);
});

t.test('info needs no credentials and shows the services', async (t) => {
  const res = await cli(live, ['info', '-o', 'table'], { env: { FARRIER_USER: undefined, FARRIER_PASSWORD: undefined } });
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /^FIELD\s+VALUE\n/);
  t.match(res.stdout, /\nversion\s+\S+/);
  t.match(res.stdout, /\nSERVICE\s+ENABLED\s+PORT\s+STATUS\n/);
  t.match(res.stdout, /\nhttp\s+true\s+\d+\s+serving\n/);
  t.match(res.stdout, /\ndhcp\s+false\s+\d+\s+disabled\n/);
});

t.test('events watch prints machine changes as they happen', async (t) => {
  const child = spawn(
    process.execPath,
    [builtCli(), 'events', 'watch', '--type', 'machines', '--count', '1', '-o', 'json'],
    { env: { ...process.env, FARRIER_ENDPOINT: live.endpoint, FARRIER_USER: 'admin', FARRIER_PASSWORD: ADMIN_PASSWORD } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let done = false;
  void exited.then(() => (done = true));
  // The watcher subscribes some time after it starts; keep changing the machine until it has seen one.
  // The bound only stops a broken watcher from hanging the file; a working one exits within a second or two.
  const giveUp = Date.now() + 60_000;
  for (let i = 0; !done && Date.now() < giveUp; i++) {
    await cliJson(t, live, ['machines', 'patch', 'name:web1', JSON.stringify({ description: `change ${i}` })]);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  if (!done) {
    t.fail(`events watch saw no machine change in 60 s of changes; its stderr: ${stderr}`);
    child.kill();
  }
  t.equal(await exited, 0);
  const ev = JSON.parse(stdout.trim().split('\n')[0] ?? '') as { type: string; action: string; key: string };
  t.match(ev, { type: 'machines', key: web.uuid });
});
