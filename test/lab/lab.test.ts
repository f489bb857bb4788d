/**
 * `farrier lab up` / `lab down` for real (root): the lab namespace with Farrier serving on its bridge, a DHCP
 * client on a second namespace plugged into the lab bridge gets an address from the lab subnet, the demo
 * machine exists, and `lab down` leaves no namespace and no process behind. `lab boot` boots a QEMU VM into
 * the e2e busybox image until its marker line, with the console and the machine's timeline streamed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { labApi, labDown, readLabState } from '../../src/lab/lab.js';
import { cli } from '../cli/helpers/live.js';
import { buildTestInitramfs } from '../e2e/lib/initramfs.js';
import { requireBootLab } from '../e2e/lib/bootLab.js';
import { requireRoot, requireTool, tempDir } from '../helpers/env.js';

const run = promisify(execFile);
const nowhere = { endpoint: 'http://127.0.0.1:9' };

t.test('lab up serves DHCP on the lab bridge; lab down removes everything', async (t) => {
  if (!requireRoot(t) || !requireTool(t, 'busybox') || !requireTool(t, 'curl')) return;
  const stateDir = tempDir(t, 'flab-state-');
  t.teardown(() => labDown({ stateDir }).catch(() => undefined));
  const up = await cli(nowhere, ['lab', 'up', '--state-dir', stateDir, '-o', 'json'], {});
  t.equal(up.code, 0, up.stderr);
  const summary = JSON.parse(up.stdout) as { namespace: string; api: string; demoMac: string };
  const state = readLabState(stateDir)!;
  t.equal(state.ns, summary.namespace);
  t.match((await run('ip', ['netns', 'list'])).stdout, summary.namespace, 'the lab namespace exists');
  t.notMatch((await run('ip', ['link', 'show'])).stdout, /\b(br0|tap0):/, 'no lab interface in the host namespace');

  const again = await cli(nowhere, ['lab', 'up', '--state-dir', stateDir]);
  t.equal(again.code, 1, 'a second lab up is refused');
  t.match(again.stderr, /already up/);

  const demo = await labApi(state, 'GET', `/api/v1/machines/mac:${summary.demoMac}`);
  t.match(demo, { status: 200, body: { name: 'demo', bootenv: 'local' } }, 'the demo machine was created');

  // A DHCP client in its own namespace, on a veth whose other end is a port of the lab bridge.
  const client = `flabc-${randomBytes(3).toString('hex')}-${process.pid}`;
  await run('ip', ['netns', 'add', client]);
  t.teardown(() => run('ip', ['netns', 'del', client]).catch(() => undefined));
  await run('ip', ['-n', state.ns, 'link', 'add', 'vlab0', 'type', 'veth', 'peer', 'name', 'vcl0', 'netns', client]);
  await run('ip', ['-n', state.ns, 'link', 'set', 'vlab0', 'master', state.bridge, 'up']);
  await run('ip', ['-n', client, 'link', 'set', 'vcl0', 'up']);
  const dhcp = await run('ip', ['netns', 'exec', client, 'busybox', 'udhcpc', '-i', 'vcl0', '-n', '-q', '-t', '10', '-T', '1', '-s', '/bin/true'], { timeout: 60_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  t.match(`${dhcp.stdout}${dhcp.stderr}`, /lease of 10\.77\.0\.1\d\d obtained/, 'the client got an address from the lab subnet');

  const down = await cli(nowhere, ['lab', 'down', '--state-dir', stateDir]);
  t.equal(down.code, 0, down.stderr);
  t.equal(down.stdout, 'lab stopped and removed\n');
  t.notMatch((await run('ip', ['netns', 'list'])).stdout, state.ns, 'no lab namespace left');
  t.throws(() => process.kill(state.farrierPid, 0), 'the lab farrier has exited');
  t.equal((await cli(nowhere, ['lab', 'down', '--state-dir', stateDir])).stdout, 'no lab is up\n');
});

t.test('lab boot network-boots a BIOS and then a UEFI VM into the e2e-busybox bootenv, streaming console and timeline', async (t) => {
  if (!requireRoot(t) || !requireTool(t, 'curl') || !requireBootLab(t)) return;
  const img = await buildTestInitramfs();
  const stateDir = tempDir(t, 'flab-state-');
  t.teardown(() => labDown({ stateDir }).catch(() => undefined));
  // The shipped e2e-busybox bootenv names e2e/vmlinuz and e2e/initramfs.gz under the boot root.
  mkdirSync(join(stateDir, 'data', 'files', 'e2e'), { recursive: true });
  copyFileSync(img.kernel, join(stateDir, 'data', 'files', 'e2e', 'vmlinuz'));
  copyFileSync(img.path, join(stateDir, 'data', 'files', 'e2e', 'initramfs.gz'));
  const up = await cli(nowhere, ['lab', 'up', '--state-dir', stateDir, '-o', 'json']);
  t.equal(up.code, 0, up.stderr);
  const state = readLabState(stateDir)!;
  // The bootenv's required params come with the machine, so the demo machine is recreated with them.
  t.equal((await labApi(state, 'DELETE', `/api/v1/machines/mac:${state.demoMac}`)).status, 200);
  const demo = await labApi(state, 'POST', '/api/v1/machines', { name: 'demo', macs: [state.demoMac], bootenv: 'e2e-busybox', params: { 'e2e/nonce': 'lab', 'e2e/secret-word': 'lab' } });
  t.equal(demo.status, 201, JSON.stringify(demo.body));

  const report = (await labApi(state, 'GET', `/api/v1/machines/mac:${state.demoMac}/explain?arch=bios`)).body as { problems: string[]; loader: { path: string }; script: { path: string }; files: { path: string; exists: boolean }[] };
  t.same(report.problems, [], 'explain finds no problem before the boot');
  const boot = await cli(nowhere, ['lab', 'boot', '--state-dir', stateDir, '--until', 'FARRIER-E2E-DONE', '--timeout', '400']);
  t.equal(boot.code, 0, `${boot.stderr}\n${boot.stdout.slice(-3000)}`);
  t.match(boot.stdout, /FARRIER-E2E: lease ip=10\.77\.0\.1\d\d/, 'the VM console is streamed: the initramfs got its lease');
  t.match(boot.stdout, /FARRIER-E2E-DONE rc=0/, '… and ran the machine script');
  t.match(boot.stdout, /\[timeline\] dhcp: DHCP discover: /, 'the machine timeline is streamed: DHCP');
  t.match(boot.stdout, /\[timeline\] http: HTTP GET \/e2e\/vmlinuz: 200/, '… and the kernel fetch');
  t.match(boot.stdout, /\n\[lab\] matched\n$/);
  t.equal(readLabState(stateDir)?.qemuPid, undefined, 'QEMU stopped and forgotten');

  // explain, asked before the boot, named every file the real boot then fetched from Farrier.
  const timeline = (await labApi(state, 'GET', `/api/v1/machines/mac:${state.demoMac}/timeline`)).body as { kind: string; detail: { path?: string; file?: string } }[];
  const fetched = new Set(timeline.filter((e) => e.kind === 'http' || e.kind === 'tftp').map((e) => String(e.detail.path ?? e.detail.file).replace(/^\//, '')));
  const explained = new Set([report.loader.path, 'boot.ipxe', report.script.path, ...report.files.filter((f) => f.exists).map((f) => f.path)]);
  t.same([...fetched].filter((p) => !explained.has(p)), [], `every fetched file was explained (fetched: ${[...fetched].join(', ')})`);

  // The same machine again, now with UEFI firmware (OVMF).
  t.equal((await labApi(state, 'POST', `/api/v1/machines/mac:${state.demoMac}/bootenv`, { bootenv: 'e2e-busybox' })).status, 200);
  const uefi = await cli(nowhere, ['lab', 'boot', '--uefi', '--state-dir', stateDir, '--until', 'FARRIER-E2E-DONE', '--timeout', '400']);
  t.equal(uefi.code, 0, `${uefi.stderr}\n${uefi.stdout.slice(-3000)}`);
  t.match(uefi.stdout, /booting a UEFI VM/);
  t.match(uefi.stdout, /FARRIER-E2E-DONE rc=0/, 'the UEFI VM ran the machine script too');
  // OVMF runs the NIC's own iPXE EFI ROM (QEMU ships one per NIC model), so no loader comes over TFTP.
  t.match(uefi.stdout, /iPXE .*\n.*Features: .*\bEFI\b/, 'the firmware is UEFI: iPXE runs as an EFI driver');
  t.match(uefi.stdout, /\[timeline\] http: HTTP GET \/e2e\/vmlinuz: 200/, 'its timeline shows the kernel fetch');

  t.equal((await cli(nowhere, ['lab', 'down', '--state-dir', stateDir])).code, 0);
  t.notMatch((await run('ip', ['netns', 'list'])).stdout, state.ns, 'no lab namespace left');
});
