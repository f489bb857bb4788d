import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { builtCli, cli } from './helpers/live.js';

t.test('farrier serve runs the daemon with flags and env, answers the CLI, and stops cleanly on SIGTERM', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fcli-serve-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const child = spawn(
    process.execPath,
    [builtCli(), 'serve', '--data-dir', dataDir, '--http-port', '0', '--no-dhcp-enabled', '--tftp-enabled', 'false'],
    {
      env: { ...process.env, FARRIER_ADMIN_PASSWORD: 'serve-test-pw', FARRIER_HTTP_HOST: '127.0.0.1', FARRIER_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));

  const logLines: Array<Record<string, unknown>> = [];
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string | undefined>((resolve) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logLines.push(entry);
      if (entry.msg === 'HTTP API listening') resolve(String(entry.url));
    });
    lines.on('close', () => resolve(undefined));
  });
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'FARRIER_HTTP_HOST and --http-port 0 were applied');
  if (!url) {
    t.fail(`daemon did not start: ${stderr}`);
    return;
  }

  const info = await cli({ endpoint: url }, ['info', '-o', 'json'], { env: { FARRIER_USER: undefined } });
  t.equal(info.code, 0, info.stderr);
  t.match(JSON.parse(info.stdout), { services: { http: { enabled: true }, dhcp: { enabled: false }, tftp: { enabled: false } } });

  const list = await cli({ endpoint: url }, ['-U', 'admin', '-P', 'serve-test-pw', 'machines', 'list', '-o', 'json']);
  t.equal(list.code, 0, 'the admin password came from FARRIER_ADMIN_PASSWORD');
  t.same(JSON.parse(list.stdout), []);

  child.kill('SIGTERM');
  t.same(await exited, { code: 0, signal: null });
  t.ok(
    logLines.some((l) => l.msg === 'stopped'),
    'the daemon closed before the process exited',
  );
});
