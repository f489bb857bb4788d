/**
 * What `npm start` runs: the built CLI (`node dist/cli/main.js serve`) on unprivileged high ports starts
 * the whole daemon — /api/v1/info shows HTTP, TFTP and DHCP serving with their ports and the loaders, boot
 * files answer over HTTP and TFTP — and SIGTERM stops it cleanly.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { repoRoot } from '../api/harness.js';
import { builtCli } from '../cli/helpers/built.js';
import { requireRoot, requireTool, tempDir } from '../helpers/env.js';
import { freeUdpPort } from './helpers.js';

const run = promisify(execFile);

async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

t.test('node dist/cli/main.js serve runs DHCP, TFTP and HTTP boot files beside the API', async (t) => {
  builtCli();
  const dataDir = tempDir(t, 'fwire-serve-');
  const [httpPort, tftpPort, dhcpPort, proxyPort] = [await freeTcpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  const child = spawn(
    process.execPath,
    ['dist/cli/main.js', 'serve', '--data-dir', dataDir, '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--tftp-port', String(tftpPort), '--dhcp-port', String(dhcpPort), '--proxy-dhcp-port', String(proxyPort), '--dhcp-interfaces', 'lo'],
    { cwd: repoRoot, env: { ...process.env, FARRIER_ADMIN_PASSWORD: 'serve-test-pw' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  // 'close', not 'exit': by then stdout and stderr are drained.
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const base = `http://127.0.0.1:${httpPort}`;
  let info: { services: Record<string, { enabled: boolean; port: number; error?: string }>; loaders: Record<string, unknown> } | undefined;
  for (let i = 0; i < 200 && !info && child.exitCode === null; i++) {
    info = await fetch(`${base}/api/v1/info`).then((r) => r.json() as Promise<typeof info>, () => undefined);
    if (!info) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(info, `the daemon answers /api/v1/info (output: ${output.slice(0, 500)})`);
  if (!info) return;
  t.same(info.services.http, { enabled: true, port: httpPort });
  t.same(info.services.tftp, { enabled: true, port: tftpPort });
  t.same(info.services.dhcp, { enabled: true, port: dhcpPort });
  t.match(info.loaders, { 'undionly.kpxe': { package: 'ipxe' } });
  const script = await (await fetch(`${base}/boot.ipxe`)).text();
  t.match(script, `chain --autofree ${base}/\${mac:hexhyp}.ipxe`, 'boot files over HTTP carry the daemon\'s own URL');
  if (requireTool(t, 'atftp')) {
    const local = join(dataDir, 'boot.ipxe.tftp');
    await run('atftp', ['-g', '-r', 'boot.ipxe', '-l', local, '127.0.0.1', String(tftpPort)]);
    t.equal(readFileSync(local, 'utf8'), script, 'the same file over TFTP');
  }

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops it with exit code 0');
  t.match(output, /"msg":"stopped"/, 'after closing its listeners');
});

t.test('as an unprivileged user, DHCP 67 and TFTP 69 are reported with the remedy and HTTP keeps serving', async (t) => {
  // Needs root to drop to "nobody" (uid 65534), to whom the privileged-port rule applies.
  if (!requireRoot(t) || !requireTool(t, 'setpriv')) return;
  builtCli();
  const dir = tempDir(t, 'fwire-nobody-');
  chmodSync(dir, 0o777);
  const httpPort = await freeTcpPort();
  const child = spawn(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'dist/cli/main.js', 'serve', '--data-dir', join(dir, 'data'), '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--dhcp-interfaces', 'lo', '--proxy-dhcp-port', String(await freeUdpPort())],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  // 'close', not 'exit': by then stdout and stderr are drained.
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let info: { services: Record<string, { enabled: boolean; port: number; error?: string }> } | undefined;
  for (let i = 0; i < 200 && !info && child.exitCode === null; i++) {
    info = await fetch(`http://127.0.0.1:${httpPort}/api/v1/info`).then((r) => r.json() as Promise<typeof info>, () => undefined);
    if (!info) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(info, `HTTP serves although DHCP and TFTP could not bind (output: ${output.slice(0, 500)})`);
  if (!info) return;
  // HTTP answers first; the protocol services bind one after the other right after it
  for (let i = 0; i < 200 && !(info.services.dhcp.error && info.services.tftp.error); i++) {
    await new Promise((r) => setTimeout(r, 50));
    info = (await fetch(`http://127.0.0.1:${httpPort}/api/v1/info`).then((r) => r.json() as Promise<typeof info>)) ?? info;
  }
  t.match(info.services.dhcp, { port: 67, error: /DHCP: port 67 needs root or CAP_NET_BIND_SERVICE.*setcap cap_net_bind_service/ });
  t.match(info.services.tftp, { port: 69, error: /TFTP: port 69 needs root or CAP_NET_BIND_SERVICE.*--tftp-port/ });
  // The log lines may still be in the pipe when /info answers.
  const logged = (): boolean => output.includes('"service":"dhcp","port":67') && output.includes('"service":"tftp","port":69');
  for (let i = 0; i < 100 && !logged(); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(output, /"service":"dhcp","port":67,"msg":"DHCP: port 67 needs root/, 'one clear log line for DHCP');
  t.match(output, /"service":"tftp","port":69,"msg":"TFTP: port 69 needs root/, 'and one for TFTP');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
