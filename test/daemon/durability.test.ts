import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/env.js';

const launcher = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'launcher.ts');

interface Child {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startChild(t: Test, dataDir: string, env: Record<string, string> = {}): Promise<Child> {
  const proc = spawn(process.execPath, [...process.execArgv, launcher], {
    env: { ...process.env, FARRIER_DATA_DIR: dataDir, FARRIER_HTTP_PORT: '0', FARRIER_HTTP_HOST: '127.0.0.1', FARRIER_DHCP_ENABLED: 'false', FARRIER_TFTP_ENABLED: 'false', FARRIER_ADMIN_PASSWORD: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': only then has everything the child wrote to stdout/stderr been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    // stdout and stderr are separate pipes read in no fixed order: READY (stdout) can arrive before the
    // startup log lines (stderr) that were written earlier. The HTTP listening line is logged just before
    // READY, so once both are here every startup line (e.g. the generated admin password) has been read.
    const check = (): void => {
      const m = /READY (\S+)/.exec(out);
      if (m && err.includes('"msg":"HTTP API listening"')) resolve({ proc, url: m[1]!, stderr: () => err, exited });
    };
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    proc.stderr!.on('data', check);
    void exited.then(({ code }) => reject(new Error(`daemon exited (${code}) before it was ready: ${err}`)));
  });
}

const auth = (pw: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`admin:${pw}`).toString('base64')}`, 'content-type': 'application/json' });

t.test('acknowledged writes survive kill -9 and a restart', async (t) => {
  const dataDir = tempDir(t);
  const first = await startChild(t, dataDir);
  const line = first.stderr().split('\n').find((l) => l.includes('created user \\"admin\\" with password'));
  t.ok(line, 'first start logs the generated admin password');
  const password = /with password (\S+)/.exec(line ?? '')?.[1] ?? '';
  t.equal(first.stderr().split(password).length - 1, 1, 'the password appears in the log exactly once');
  const headers = auth(password);

  const uuids: string[] = [];
  for (let i = 0; i < 15; i++) {
    const res = await fetch(`${first.url}/api/v1/machines`, { method: 'POST', headers, body: JSON.stringify({ name: `d${i}`, macs: [`52:54:00:00:10:${String(i).padStart(2, '0')}`] }) });
    t.equal(res.status, 201);
    uuids.push(((await res.json()) as { uuid: string }).uuid);
  }
  const patched = await fetch(`${first.url}/api/v1/machines/${uuids[0]}/params/rack`, { method: 'PUT', headers, body: JSON.stringify('r9') });
  t.equal(patched.status, 200);
  const last = await fetch(`${first.url}/api/v1/subnets`, { method: 'POST', headers, body: JSON.stringify({ name: 'lab', cidr: '10.9.0.0/24' }) });
  t.equal(last.status, 201);
  first.proc.kill('SIGKILL');
  t.match(await first.exited, { signal: 'SIGKILL' });

  const second = await startChild(t, dataDir);
  t.notMatch(second.stderr(), /created user/, 'no second admin on restart');
  const list = await fetch(`${second.url}/api/v1/machines?limit=100`, { headers });
  t.equal(list.headers.get('x-total-count'), '15', 'all machines survived');
  const names = ((await list.json()) as { name: string }[]).map((m) => m.name).sort();
  t.same(names, Array.from({ length: 15 }, (_, i) => `d${i}`).sort());
  t.same(await (await fetch(`${second.url}/api/v1/machines/${uuids[0]}/params/rack`, { headers })).json(), 'r9', 'the update survived');
  t.equal((await fetch(`${second.url}/api/v1/subnets/lab`, { headers })).status, 200, 'the last write before kill -9 survived');

  // Graceful stop: SIGTERM closes and exits 0.
  second.proc.kill('SIGTERM');
  t.match(await second.exited, { code: 0 });
  t.match(second.stderr(), /"msg":"stopped"/);
  const third = await startChild(t, dataDir);
  t.equal((await fetch(`${third.url}/api/v1/machines?limit=0`, { headers })).headers.get('x-total-count'), '15');
  third.proc.kill('SIGTERM');
  await third.exited;
});

t.test('--durability process (no fsync per commit) still keeps every acknowledged write across kill -9', async (t) => {
  const dataDir = tempDir(t);
  const env = { FARRIER_DURABILITY: 'process', FARRIER_ADMIN_PASSWORD: 'durability-pw' };
  const first = await startChild(t, dataDir, env);
  const headers = auth('durability-pw');
  const writes = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      fetch(`${first.url}/api/v1/machines`, { method: 'POST', headers, body: JSON.stringify({ name: `p${i}`, macs: [`52:54:00:00:20:${String(i).padStart(2, '0')}`] }) }),
    ),
  );
  t.same(writes.map((r) => r.status), Array.from({ length: 20 }, () => 201), 'twenty concurrent creates acknowledged');
  first.proc.kill('SIGKILL');
  await first.exited;

  const second = await startChild(t, dataDir, env);
  const list = await fetch(`${second.url}/api/v1/machines?limit=0`, { headers });
  t.equal(list.headers.get('x-total-count'), '20', 'all of them are there after the restart');
  second.proc.kill('SIGTERM');
  await second.exited;
});
