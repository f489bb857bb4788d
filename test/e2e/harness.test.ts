/**
 * Proves the e2e harness (netns + bridge/TAP + RA helper, test initramfs, QEMU runner) with dnsmasq as the
 * DHCP/TFTP server and a Node HTTP server: a VM network-boots, runs its per-machine script fetched over
 * HTTP, prints a value only that machine has, posts a callback with its token and powers off.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { requireFile, requireNetns, requireTool, tempDir } from '../helpers/env.js';
import { startDnsmasq } from './lib/dnsmasq.js';
import { buildTestInitramfs, findGuestKernel, INITRAMFS_TOOLS } from './lib/initramfs.js';
import { createBridgeWithTap, createNetns, startRaHelper } from './lib/netns.js';
import { startNsHttpServer } from './lib/nsHttp.js';
import { bootVm, OVMF_CODE } from './lib/qemu.js';

const IP = '10.215.0.1';
const HTTP = `http://${IP}:8080`;

function prerequisites(t: Test, uefi: boolean): boolean {
  if (!requireNetns(t)) return false;
  for (const tool of ['qemu-system-x86_64', 'dnsmasq', ...INITRAMFS_TOOLS]) if (!requireTool(t, tool)) return false;
  const kernel = findGuestKernel()?.kernel ?? '/boot/vmlinuz-<none>';
  if (!requireFile(t, kernel, 'linux-image-amd64')) return false;
  if (uefi && !requireFile(t, OVMF_CODE, 'ovmf')) return false;
  return requireFile(t, '/usr/lib/ipxe/ipxe.efi', 'ipxe') && requireFile(t, '/usr/lib/ipxe/undionly.kpxe', 'ipxe');
}

async function bootOnce(t: Test, fw: 'bios' | 'uefi', nic: 'e1000' | 'virtio-net-pci', noRom: boolean): Promise<void> {
  const img = await buildTestInitramfs();
  const ns = await createNetns(t, 'fe2e');
  const br = await createBridgeWithTap(ns, { address: `${IP}/24`, ipv6: 'fd42:215::1/64' });
  startRaHelper(t, ns, br.bridge);

  const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)?.join(':')}`;
  const machineDir = mac.replace(/:/g, '-');
  const nonce = randomBytes(6).toString('hex');
  const token = randomBytes(16).toString('hex');
  const srv = tempDir(t, 'farrier-srv-');
  copyFileSync(img.kernel, join(srv, 'vmlinuz'));
  copyFileSync(img.path, join(srv, 'initramfs.gz'));
  copyFileSync('/usr/lib/ipxe/ipxe.efi', join(srv, 'ipxe.efi'));
  copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(srv, 'undionly.kpxe'));
  // initrd= on the command line: this iPXE has no LINUX_EFI_INITRD_MEDIA, the EFI stub loads it by name
  writeFileSync(
    join(srv, 'boot.ipxe'),
    [
      '#!ipxe',
      'echo FARRIER-E2E ipxe: mac ${netX/mac} ip ${netX/ip} platform ${platform}',
      `kernel ${HTTP}/vmlinuz initrd=initramfs.gz console=ttyS0,115200 panic=-1 loglevel=4 farrier.script=${HTTP}/machines/\${netX/mac:hexhyp}/script.sh`,
      `initrd ${HTTP}/initramfs.gz`,
      'boot',
      '',
    ].join('\n'),
  );
  mkdirSync(join(srv, 'machines', machineDir), { recursive: true });
  writeFileSync(
    join(srv, 'machines', machineDir, 'script.sh'),
    [`say "FARRIER-E2E-PARAM nonce=${nonce}"`, `post_json ${HTTP}/callback/${machineDir} ${token} '{"bootenv":"local"}' >/dev/null && say "FARRIER-E2E: callback posted"`, ''].join('\n'),
  );

  await startDnsmasq(t, ns, { bridge: br.bridge, rangeStart: '10.215.0.100', rangeEnd: '10.215.0.200', tftpRoot: srv, ipxeScriptUrl: `${HTTP}/boot.ipxe` });
  const http = await startNsHttpServer(t, ns, { host: IP, port: 8080, root: srv });

  const vm = bootVm(t, { ns, tap: br.tap, mac, firmware: fw, nic, noRom, name: `${fw}-${nic}` });
  const param = await vm.waitForLine(`FARRIER-E2E-PARAM nonce=${nonce}`, 150_000);
  t.pass(`guest printed its machine's nonce after ${(param.atMs / 1000).toFixed(1)} s`);
  await vm.waitForLine('FARRIER-E2E-DONE rc=0', 30_000);
  const code = await vm.waitForExit(30_000);
  t.equal(code, 0, 'the guest powered off and QEMU exited');
  const posts = http.posts();
  t.same(posts.map((p) => [p.path, p.authorization, p.body]), [[`/callback/${machineDir}`, `Bearer ${token}`, '{"bootenv":"local"}']], 'callback carried the token');
  const paths = http.requests().map((r) => r.path);
  t.ok(paths.includes('/vmlinuz') && paths.includes('/initramfs.gz'), 'kernel and initramfs came over HTTP');
  t.comment(`${fw}/${nic}${noRom ? ' (firmware PXE)' : ''}: marker at ${(param.atMs / 1000).toFixed(1)} s`);
}

t.test('BIOS: SeaBIOS + iPXE ROM boots the test initramfs over HTTP and runs the machine script', async (t) => {
  if (!prerequisites(t, false)) return;
  await bootOnce(t, 'bios', 'e1000', false);
});

t.test("UEFI: OVMF's own PXE fetches ipxe.efi over TFTP, then the same script runs", async (t) => {
  if (!prerequisites(t, true)) return;
  await bootOnce(t, 'uefi', 'virtio-net-pci', true);
});
