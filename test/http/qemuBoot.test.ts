/**
 * A real boot through the HTTP boot files, without root: QEMU's user-mode network (restrict=on, so the
 * guest reaches nothing but the one forwarded address) gives the NIC's iPXE ROM an address and the
 * bootfile http://10.0.2.100/boot.ipxe; 10.0.2.100:80 is forwarded to this test's server on loopback.
 * iPXE chains to the machine's script, loads Debian's kernel, a busybox initramfs and the machine's
 * config.cpio; the guest prints what the config initrd holds. Then the machine is set to `local` and a
 * second boot must not fetch the kernel again. The same under OVMF (iPXE's EFI driver from the NIC ROM, an
 * EFI-stub kernel loading `initrd=` names), and lpxelinux.0 chained over HTTP reading pxelinux.cfg/01-<mac>.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { buildCpio } from '../../src/boot/cpio.js';
import { discoverLoaders } from '../../src/boot/loaders.js';
import { Renderer } from '../../src/boot/render.js';
import { StaticRoot } from '../../src/boot/staticFiles.js';
import { BootTree } from '../../src/boot/tree.js';
import { bootFilesPlugin } from '../../src/http/bootFiles.js';
import { isCI, requireTool } from '../helpers/env.js';
import { machine, MemoryBootData } from '../boot/fixtures.js';

const INIT = `#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
exec >/dev/ttyS0 2>&1
/bin/busybox mount -t proc proc /proc
echo "FARRIER-CMDLINE $(/bin/busybox cat /proc/cmdline)"
if [ -f /etc/farrier/e2e.env ]; then
  . /etc/farrier/e2e.env
  echo "FARRIER-CONFIG-INITRD nonce=$FARRIER_NONCE machine=$FARRIER_MACHINE"
else
  echo "FARRIER-CONFIG-INITRD missing"
fi
/bin/busybox poweroff -f
`;

/** Forwards one guest connection (stdin/stdout, spawned by QEMU's guestfwd) to the test server. */
const PIPE = `import { connect } from 'node:net';
const s = connect(Number(process.argv[2]), '127.0.0.1');
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on('error', () => process.exit(0));
s.on('close', () => process.exit(0));
`;

function kernelPath(): string | undefined {
  const k = existsSync('/boot') ? readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')).sort().pop() : undefined;
  return k ? join('/boot', k) : undefined;
}

function waitExit(p: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      resolve(null);
    }, ms);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

t.test('iPXE ROM → boot.ipxe → per-MAC script → kernel + initrd + config.cpio over HTTP', async (t) => {
  if (!requireTool(t, 'qemu-system-x86_64') || !requireTool(t, 'busybox')) return;
  const kernel = kernelPath();
  if (!kernel) {
    const why = 'no /boot/vmlinuz-* (apt-get install linux-image-amd64)';
    if (isCI()) t.fail(why);
    else t.plan(0, why);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fboot-qemu-'));
  const root = join(dir, 'files');
  mkdirSync(join(root, 'e2e'), { recursive: true });
  copyFileSync(kernel, join(root, 'e2e/vmlinuz'));
  writeFileSync(
    join(root, 'e2e/initramfs.gz'),
    buildCpio([
      { path: 'init', data: Buffer.from(INIT), mode: 0o755 },
      { path: 'bin/busybox', data: readFileSync(requireBusybox()), mode: 0o755 },
      { path: 'dev/.keep', data: Buffer.alloc(0) },
      { path: 'proc/.keep', data: Buffer.alloc(0) },
    ]),
  );
  writeFileSync(join(dir, 'pipe.mjs'), PIPE);

  const data = new MemoryBootData();
  const m = machine({ bootenv: 'e2e-busybox', params: { 'e2e/nonce': `nonce-${process.pid}` } });
  data.machines.push(m);
  const tree = new BootTree(data, new Renderer(data), { httpPort: 80, staticIp: '10.0.2.100' }, discoverLoaders(), new StaticRoot(root));
  const app = Fastify();
  await app.register(bootFilesPlugin, { tree, publish: (e) => data.publish(e) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const firmware = (name: string, uefi: boolean): string[] => {
    if (!uefi) return ['-M', 'pc'];
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', join(dir, `${name}-vars.fd`));
    return [
      '-M', 'q35',
      '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      '-drive', `if=pflash,format=raw,unit=1,file=${join(dir, `${name}-vars.fd`)}`,
    ];
  };
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  const boot = (name: string, bootfile = 'boot.ipxe', uefi = false): ChildProcess => {
    const p = spawn('qemu-system-x86_64', [
      ...firmware(name, uefi), '-m', '512', '-accel', 'tcg', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-serial', `file:${join(dir, `${name}.log`)}`,
      '-netdev', `user,id=n0,restrict=on,bootfile=http://10.0.2.100/${bootfile},guestfwd=tcp:10.0.2.100:80-cmd:${process.execPath} ${join(dir, 'pipe.mjs')} ${port}`,
      '-device', 'e1000,netdev=n0,mac=52:54:00:12:34:56,bootindex=1',
      '-boot', 'n',
    ], { stdio: 'ignore' });
    children.push(p);
    return p;
  };

  const paths = (): string[] => data.events.filter((e) => e.type === 'http').map((e) => `${(e.object as { status: number }).status} ${(e.object as { path: string }).path}`);

  const started = Date.now();
  const first = boot('first');
  const code = await waitExit(first, 240_000);
  t.comment(`first boot: QEMU start to power-off ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const log = readFileSync(join(dir, 'first.log'), 'utf8');
  t.equal(code, 0, 'the guest powered off by itself');
  t.match(log, `FARRIER-CONFIG-INITRD nonce=nonce-${process.pid} machine=${m.uuid}`, 'the kernel unpacked the appended config.cpio');
  t.match(log, `cfg=http://10.0.2.100:80/machines/${m.uuid}/cloud-init`, 'bootParams reached the kernel command line');
  t.match(log, 'initrd=initramfs.gz initrd=config.cpio');
  t.same(
    paths(),
    ['200 /boot.ipxe', '200 /52-54-00-12-34-56.ipxe', '200 /e2e/vmlinuz', '200 /e2e/initramfs.gz', `200 /machines/${m.uuid}/config.cpio`],
    'the boot fetched exactly its files',
  );

  m.bootenv = 'local';
  data.events.length = 0;
  const second = boot('second');
  // The second boot ends at the firmware (no disk); stop it once iPXE has read its script and had time to act on it.
  const deadline = Date.now() + 180_000;
  while (!paths().includes('200 /52-54-00-12-34-56.ipxe') && Date.now() < deadline && second.exitCode === null) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 5000));
  second.kill('SIGKILL');
  await waitExit(second, 10_000);
  t.same(paths(), ['200 /boot.ipxe', '200 /52-54-00-12-34-56.ipxe'], 'bootenv local: the script exits, no kernel is fetched');

  if (!existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd')) {
    if (isCI()) t.fail('ovmf not installed');
    else t.comment('ovmf not installed: UEFI path not booted');
  } else {
    m.bootenv = 'e2e-busybox';
    data.events.length = 0;
    const efiStart = Date.now();
    const efi = boot('uefi', 'boot.ipxe', true);
    t.equal(await waitExit(efi, 240_000), 0, 'UEFI boot powered off by itself');
    t.comment(`UEFI boot: QEMU start to power-off ${((Date.now() - efiStart) / 1000).toFixed(1)} s`);
    const efiLog = readFileSync(join(dir, 'uefi.log'), 'utf8');
    t.match(efiLog, `FARRIER-CONFIG-INITRD nonce=nonce-${process.pid} machine=${m.uuid}`, 'the EFI stub loaded both initrds by name');
    t.same(paths().slice(0, 2), ['200 /boot.ipxe', '200 /52-54-00-12-34-56.ipxe']);
  }

  if (!existsSync('/usr/lib/PXELINUX/lpxelinux.0')) {
    if (isCI()) t.fail('pxelinux not installed');
    else t.comment('pxelinux not installed: lpxelinux path not booted');
    return;
  }
  m.bootenv = 'e2e-busybox';
  data.events.length = 0;
  const pxStart = Date.now();
  const px = boot('pxelinux', 'lpxelinux.0');
  t.equal(await waitExit(px, 240_000), 0, 'lpxelinux boot powered off by itself');
  t.comment(`lpxelinux boot: QEMU start to power-off ${((Date.now() - pxStart) / 1000).toFixed(1)} s`);
  const pxLog = readFileSync(join(dir, 'pxelinux.log'), 'utf8');
  t.match(pxLog, `FARRIER-CONFIG-INITRD nonce=nonce-${process.pid} machine=${m.uuid}`, 'pxelinux INITRD list carried the config.cpio');
  t.match(pxLog, /BOOTIF=01-52-54-00-12-34-56/, 'IPAPPEND 2 added BOOTIF');
  const got = paths();
  t.ok(got.includes('200 /lpxelinux.0') && got.includes('200 /ldlinux.c32'), 'loaders came from the Debian packages');
  t.ok(got.includes('200 /pxelinux.cfg/01-52-54-00-12-34-56'), 'pxelinux found its per-MAC file');
  t.ok(got.includes('200 /e2e/vmlinuz') && got.includes(`200 /machines/${m.uuid}/config.cpio`), got.join(', '));
});

function requireBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox not found');
}
