/**
 * One PXE boot lab per test: a namespace with bridge + TAP (10.215.0.1/24), an RA helper, dnsmasq for DHCP
 * (and TFTP unless Farrier's TFTP server is under test), an HTTP server, and a boot root holding the guest
 * kernel, the test initramfs, iPXE and pxelinux loaders and per-machine scripts.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { findGuestKernel, INITRAMFS_TOOLS, buildTestInitramfs } from './initramfs.js';
import { startDnsmasq } from './dnsmasq.js';
import { createBridgeWithTap, createNetns, startRaHelper, type BridgeTap, type Netns } from './netns.js';
import { startNsHttpServer, type NsHttpServer } from './nsHttp.js';
import { startNsTftpServer, type NsTftpServer } from './nsTftp.js';
import { bootVm, OVMF_CODE, type QemuVm, type VmOptions } from './qemu.js';
import { requireFile, requireNetns, requireTool, tempDir } from '../../helpers/env.js';

export const LAB_IP = '10.215.0.1';
export const LAB_HTTP = `http://${LAB_IP}:8080`;
export const KERNEL_ARGS = 'console=ttyS0,115200 panic=-1 loglevel=4';

/** Loaders copied into the boot root, by Debian package. */
const LOADERS: [string, string, string][] = [
  ['/usr/lib/ipxe/ipxe.efi', 'ipxe.efi', 'ipxe'],
  ['/usr/lib/ipxe/snponly.efi', 'snponly.efi', 'ipxe'],
  ['/usr/lib/ipxe/undionly.kpxe', 'undionly.kpxe', 'ipxe'],
  ['/usr/lib/PXELINUX/pxelinux.0', 'pxelinux.0', 'pxelinux'],
  ['/usr/lib/syslinux/modules/bios/ldlinux.c32', 'ldlinux.c32', 'syslinux-common'],
];

/** Every prerequisite of a boot lab (skip locally, fail under CI). */
export function requireBootLab(t: Test, opts: { uefi?: boolean } = {}): boolean {
  if (!requireNetns(t)) return false;
  for (const tool of ['qemu-system-x86_64', 'dnsmasq', 'ss', ...INITRAMFS_TOOLS]) if (!requireTool(t, tool)) return false;
  if (!requireFile(t, findGuestKernel()?.kernel ?? '/boot/vmlinuz-*', 'linux-image-amd64')) return false;
  if (opts.uefi && !requireFile(t, OVMF_CODE, 'ovmf')) return false;
  return LOADERS.every(([src, , pkg]) => requireFile(t, src, pkg));
}

export interface Machine {
  mac: string;
  /** aa-bb-cc-dd-ee-ff */
  hyphenated: string;
  nonce: string;
  token: string;
  scriptUrl: string;
}

export interface BootLab {
  ns: Netns;
  net: BridgeTap;
  root: string;
  http: NsHttpServer;
  tftp?: NsTftpServer;
  /** A machine with a random MAC whose script prints its nonce and posts a callback with its token. */
  addMachine(): Machine;
}

export interface BootLabOptions {
  /** Who serves TFTP: dnsmasq, or Farrier's own server (src/tftp) under test. */
  tftp: 'dnsmasq' | 'farrier';
  /** 'ipxe': iPXE gets boot.ipxe over HTTP; 'pxelinux': every client gets pxelinux.0 over TFTP. */
  chain?: 'ipxe' | 'pxelinux';
  efiBootFile?: string;
}

export async function startBootLab(t: Test, opts: BootLabOptions): Promise<BootLab> {
  const img = await buildTestInitramfs();
  const ns = await createNetns(t, 'fe2e');
  const net = await createBridgeWithTap(ns, { address: `${LAB_IP}/24`, ipv6: 'fd42:215::1/64' });
  startRaHelper(t, ns, net.bridge);

  const root = tempDir(t, 'farrier-bootroot-');
  copyFileSync(img.kernel, join(root, 'vmlinuz'));
  copyFileSync(img.path, join(root, 'initramfs.gz'));
  for (const [src, name] of LOADERS) copyFileSync(src, join(root, name));
  mkdirSync(join(root, 'pxelinux.cfg'));
  // initrd= on the command line: this iPXE lacks LINUX_EFI_INITRD_MEDIA, so the EFI stub loads it by name
  writeFileSync(
    join(root, 'boot.ipxe'),
    [
      '#!ipxe',
      'echo FARRIER-E2E ipxe: mac ${netX/mac} ip ${netX/ip} platform ${platform}',
      `kernel ${LAB_HTTP}/vmlinuz initrd=initramfs.gz ${KERNEL_ARGS} farrier.script=${LAB_HTTP}/machines/\${netX/mac:hexhyp}/script.sh`,
      `initrd ${LAB_HTTP}/initramfs.gz`,
      'boot',
      '',
    ].join('\n'),
  );

  await startDnsmasq(t, ns, {
    bridge: net.bridge,
    rangeStart: '10.215.0.100',
    rangeEnd: '10.215.0.200',
    tftpRoot: root,
    ipxeScriptUrl: `${LAB_HTTP}/boot.ipxe`,
    efiBootFile: opts.efiBootFile,
    everyoneBootFile: opts.chain === 'pxelinux' ? 'pxelinux.0' : undefined,
    tftp: opts.tftp === 'dnsmasq',
  });
  const tftp = opts.tftp === 'farrier' ? await startNsTftpServer(t, ns, { host: LAB_IP, root }) : undefined;
  const http = await startNsHttpServer(t, ns, { host: LAB_IP, port: 8080, root });

  const addMachine = (): Machine => {
    const mac = `52:54:00:${(randomBytes(3).toString('hex').match(/../g) ?? []).join(':')}`;
    const hyphenated = mac.replace(/:/g, '-');
    const nonce = randomBytes(6).toString('hex');
    const token = randomBytes(16).toString('hex');
    const scriptUrl = `${LAB_HTTP}/machines/${hyphenated}/script.sh`;
    mkdirSync(join(root, 'machines', hyphenated), { recursive: true });
    writeFileSync(
      join(root, 'machines', hyphenated, 'script.sh'),
      [
        `say "FARRIER-E2E-PARAM nonce=${nonce}"`,
        `post_json ${LAB_HTTP}/callback/${hyphenated} ${token} '{"bootenv":"local"}' >/dev/null && say "FARRIER-E2E: callback posted"`,
        '',
      ].join('\n'),
    );
    // IPAPPEND 2 adds BOOTIF=01-<mac>; pxelinux's own SERIAL directive mirrors its output to ttyS0
    writeFileSync(
      join(root, 'pxelinux.cfg', `01-${hyphenated}`),
      ['DEFAULT e2e', 'PROMPT 0', 'TIMEOUT 1', 'SERIAL 0 115200', 'LABEL e2e', '  KERNEL vmlinuz', '  INITRD initramfs.gz', `  APPEND ${KERNEL_ARGS} farrier.script=${scriptUrl}`, '  IPAPPEND 2', ''].join('\n'),
    );
    return { mac, hyphenated, nonce, token, scriptUrl };
  };

  return { ns, net, root, http, tftp, addMachine };
}

/** Boots `machine` and checks the whole run: nonce on the console, callback with token, clean poweroff. */
export async function bootAndCheck(t: Test, lab: BootLab, machine: Machine, vm: Omit<VmOptions, 'ns' | 'tap' | 'mac'>): Promise<QemuVm> {
  const q = bootVm(t, { ns: lab.ns, tap: lab.net.tap, mac: machine.mac, ...vm });
  const param = await q.waitForLine(`FARRIER-E2E-PARAM nonce=${machine.nonce}`, 150_000);
  t.pass(`guest printed its machine's nonce after ${(param.atMs / 1000).toFixed(1)} s`);
  await q.waitForLine('FARRIER-E2E-DONE rc=0', 30_000);
  t.equal(await q.waitForExit(30_000), 0, 'the guest powered off and QEMU exited');
  const posts = lab.http.posts().filter((p) => p.path === `/callback/${machine.hyphenated}`);
  t.same(posts.map((p) => [p.authorization, p.body]), [[`Bearer ${machine.token}`, '{"bootenv":"local"}']], 'callback carried the token');
  return q;
}
