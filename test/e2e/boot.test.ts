/**
 * End-to-end boots with Farrier as the only DHCP, TFTP and HTTP server: a namespace with a bridge and a TAP
 * (plus an RA-only helper, since iPXE otherwise waits ~13 s for IPv6 router advertisements), `farrier serve`
 * inside it, everything set up through the REST API, and QEMU (TCG) machines booting Debian's kernel and
 * the harness's busybox initramfs in the `e2e-busybox` bootenv.
 *
 * Each path: the guest runs its rendered per-machine script (fetched over HTTP), which prints a secure param
 * only that machine has and its NoCloud-style user-data line, then calls the bootenv endpoint with its
 * machine token to set `local`. The API then shows `bootenv: local`, and a second start of the same VM
 * (same MAC; same UEFI variables) is told by Farrier's DHCP not to netboot: its firmware gives up on the
 * network and no kernel is fetched again (checked on Farrier's own boot-file events).
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { FarrierEvent } from '../../src/model/types.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { requireBootLab } from './lib/bootLab.js';
import { startFarrierInNs, type FarrierInNs } from './lib/farrierNs.js';
import { buildTestInitramfs } from './lib/initramfs.js';
import { createBridgeWithTap, createNetns, startRaHelper, waitFor, type BridgeTap, type Netns } from './lib/netns.js';
import { bootVm, type QemuVm, type VmOptions } from './lib/qemu.js';

const LAB_IP = '10.216.0.1';
const BOOT_TIMEOUT_MS = 150_000;

interface Lab {
  ns: Netns;
  net: BridgeTap;
  farrier: FarrierInNs;
}

interface MachineRecord {
  uuid: string;
  bootenv: string;
}

const randomMac = (): string => `52:54:00:${(randomBytes(3).toString('hex').match(/../g) ?? []).join(':')}`;
const secs = (ms: number): string => (ms / 1000).toFixed(1);

/** Boot-file requests (HTTP or TFTP) for the kernel among `events`. */
const kernelFetches = (events: FarrierEvent[]): FarrierEvent[] =>
  events.filter((e) => {
    const o = e.object as { path?: unknown; file?: unknown };
    return (e.type === 'http' || e.type === 'tftp') && [o.path, o.file].some((p) => typeof p === 'string' && p.endsWith('e2e/vmlinuz'));
  });

async function createMachine(lab: Lab, name: string, bootenv: string, params: Record<string, string>): Promise<MachineRecord & { mac: string }> {
  const mac = randomMac();
  // The bootenv's requiredParams are checked on create, so the params come with it
  const created = await lab.farrier.api('POST', '/api/v1/machines', { name, macs: [mac], bootenv, params });
  if (created.status !== 201) throw new Error(`creating machine ${name}: ${created.status} ${created.text.slice(0, 300)}`);
  return { ...(created.body as MachineRecord), mac };
}

interface PathSpec {
  name: string;
  bootenv: string;
  vm: Omit<VmOptions, 'ns' | 'tap' | 'mac' | 'name' | 'uefiVars'>;
  /** Boot files (`http <path>` / `tftp <file>`) the first boot must have fetched from Farrier, `{mac}`/`{uuid}` filled in. */
  chain: string[];
  /** Console line showing the firmware gave up on the network on the second boot. */
  gaveUp: RegExp;
}

/** First boot (install, callback), then the second boot that must not netboot. */
async function bootTwice(t: Test, lab: Lab, spec: PathSpec): Promise<void> {
  const secret = `secret-${randomBytes(8).toString('hex')}`;
  const nonce = randomBytes(6).toString('hex');
  const m = await createMachine(lab, `e2e-${spec.name}`, spec.bootenv, { 'e2e/nonce': nonce, 'e2e/secret-word': secret });
  const vmDir = tempDir(t, `farrier-e2e-${spec.name}-`);
  const uefiVars = spec.vm.firmware === 'uefi' ? join(vmDir, 'OVMF_VARS.fd') : undefined;
  const vmOpts = { ...spec.vm, ns: lab.ns, tap: lab.net.tap, mac: m.mac, logDir: vmDir, uefiVars };

  const before = lab.farrier.events().length;
  const first = bootVm(t, { ...vmOpts, name: `${spec.name}-1` });
  const dump = (vm: QemuVm): string => `console:\n${vm.transcript().split('\n').slice(-60).join('\n')}\nfarrier:\n${lab.farrier.log().slice(-4000)}`;
  try {
    const param = await first.waitForLine(`FARRIER-E2E-PARAM secret=${secret} machine=${m.uuid}`, BOOT_TIMEOUT_MS);
    t.pass(`the guest printed its machine-only secure param after ${secs(param.atMs)} s`);
    const userData = await first.waitForLine('FARRIER-E2E-USERDATA', 30_000);
    t.equal(userData.text.trim(), `FARRIER-E2E-USERDATA #cloud-config run=${nonce} mac=${m.mac}`, 'its rendered user-data came over HTTP');
    const cb = await first.waitForLine('FARRIER-E2E-CALLBACK', 30_000);
    t.equal(cb.text.trim(), 'FARRIER-E2E-CALLBACK rc=0 "bootenv":"local"', 'the callback with its machine token set bootenv local');
    t.equal(await first.waitForExit(30_000), 0, 'the guest powered off');
    t.comment(`${spec.name} first boot: secret printed at ${secs(param.atMs)} s, callback at ${secs(cb.atMs)} s`);
  } catch (err) {
    t.fail(`${spec.name} first boot: ${(err as Error).message}\n${dump(first)}`);
    return;
  }
  const firstEvents = lab.farrier.events().slice(before);
  t.ok(kernelFetches(firstEvents).length > 0, 'Farrier served the kernel on the first boot');
  const served = new Set(
    firstEvents
      .filter((e) => e.type === 'http' || e.type === 'tftp')
      .map((e) => {
        const o = e.object as { path?: string; file?: string };
        return `${e.type} ${String(e.type === 'http' ? o.path : o.file).replace(/^\//, '')}`;
      }),
  );
  const hyphenated = m.mac.replace(/:/g, '-');
  for (const want of spec.chain.map((c) => c.replace('{mac}', hyphenated).replace('{uuid}', m.uuid))) {
    t.ok(served.has(want), `first boot fetched ${want}`, { served: [...served] });
  }
  t.notOk(lab.farrier.log().includes(secret), 'the secure value never appears in Farrier\'s log');
  const got = await lab.farrier.api('GET', `/api/v1/machines/${m.uuid}`);
  t.equal((got.body as MachineRecord).bootenv, 'local', 'the API shows bootenv local');

  const mark = lab.farrier.events().length;
  const second = bootVm(t, { ...vmOpts, name: `${spec.name}-2` });
  const declined = (): FarrierEvent | undefined =>
    lab.farrier
      .events()
      .slice(mark)
      .find((e) => e.type === 'dhcp' && e.key === m.uuid && /does not netboot/.test(String((e.object as { decision?: unknown }).decision)));
  try {
    await waitFor(() => declined() !== undefined || second.exited, BOOT_TIMEOUT_MS, 'the second boot to ask Farrier DHCP');
    t.ok(declined(), 'Farrier DHCP told the second boot not to netboot (bootenv local)');
    const gaveUp = await second.waitForLine(spec.gaveUp, BOOT_TIMEOUT_MS);
    t.comment(`${spec.name} second boot: firmware gave up on the network at ${secs(gaveUp.atMs)} s ("${gaveUp.text.trim()}")`);
  } catch (err) {
    t.fail(`${spec.name} second boot: ${(err as Error).message}\n${dump(second)}`);
  } finally {
    await second.stop();
  }
  t.same(kernelFetches(lab.farrier.events().slice(mark)), [], 'no kernel was fetched on the second boot');
  t.notOk(second.lines.some((l) => l.text.includes('FARRIER-E2E: init started')), 'the second boot never reached the netbooted initramfs');
}

t.test('Farrier alone serves DHCP, TFTP and HTTP: three firmware paths boot once, then boot local', async (t) => {
  if (!requireBootLab(t, { uefi: true }) || !requireTool(t, 'curl')) return;
  const started = Date.now();
  const img = await buildTestInitramfs();
  const ns = await createNetns(t, 'fe2eb');
  const net = await createBridgeWithTap(ns, { address: `${LAB_IP}/24`, ipv6: 'fd42:216::1/64' });
  startRaHelper(t, ns, net.bridge);
  // Node lists only running interfaces (libuv skips those without carrier), and the bridge has none until
  // QEMU opens the TAP: a veth pair inside the namespace, one end in the bridge, keeps it up for Farrier.
  await ns.ip('link', 'add', 'vkeep', 'type', 'veth', 'peer', 'name', 'vkeep-end');
  await ns.ip('link', 'set', 'vkeep', 'master', net.bridge);
  for (const dev of ['vkeep', 'vkeep-end']) await ns.ip('link', 'set', dev, 'up');
  // The shipped bootenv names e2e/vmlinuz and e2e/initramfs.gz under the boot root (<data-dir>/files), where
  // an exploded ISO would put them; the files API stores uploads under files/, so they are placed directly.
  const farrier = await startFarrierInNs(t, ns, {
    address: LAB_IP,
    dhcpInterface: net.bridge,
    prepare: (dataDir) => {
      mkdirSync(join(dataDir, 'files/e2e'), { recursive: true });
      copyFileSync(img.kernel, join(dataDir, 'files/e2e/vmlinuz'));
      copyFileSync(img.path, join(dataDir, 'files/e2e/initramfs.gz'));
    },
  });
  const lab: Lab = { ns, net, farrier };
  t.comment(`lab ready after ${secs(Date.now() - started)} s`);

  const api = farrier.api;
  const subnet = await api('POST', '/api/v1/subnets', { name: 'e2e', cidr: '10.216.0.0/24', activeStart: '10.216.0.100', activeEnd: '10.216.0.200' });
  t.equal(subnet.status, 201, `subnet on the bridge network (${subnet.text.slice(0, 200)})`);
  const param = await api('POST', '/api/v1/params', { name: 'e2e/secret-word', secure: true, schema: { type: 'string' }, description: 'machine-only e2e secret' });
  t.equal(param.status, 201, `secure param defined (${param.text.slice(0, 200)})`);
  const env = await api('GET', '/api/v1/bootenvs/e2e-busybox');
  t.equal(env.status, 200, 'the shipped e2e-busybox bootenv is there');
  t.equal((env.body as { available?: boolean }).available, true, 'and available: its kernel and initrd are in the boot tree');
  const { name: _n, readOnly: _r, available: _a, createdAt: _c, updatedAt: _u, version: _v, ...rest } = env.body as Record<string, unknown>;
  const px = await api('POST', '/api/v1/bootenvs', { ...rest, name: 'e2e-busybox-pxelinux', loader: 'pxelinux' });
  t.equal(px.status, 201, `a copy that asks for pxelinux (${px.text.slice(0, 300)})`);

  if (![subnet.status, param.status, px.status].every((s) => s === 201)) return;

  await t.test('a machine token cannot set another machine bootenv', async (t) => {
    const a = await createMachine(lab, 'e2e-token-a', 'e2e-busybox', { 'e2e/nonce': 'a', 'e2e/secret-word': 'a' });
    const b = await createMachine(lab, 'e2e-token-b', 'e2e-busybox', { 'e2e/nonce': 'b', 'e2e/secret-word': 'b' });
    const minted = await api('POST', `/api/v1/machines/${b.uuid}/token`);
    t.equal(minted.status, 201, `token minted (${minted.text.slice(0, 100)})`);
    const token = (minted.body as { token: string }).token;
    const wrong = await api('POST', `/api/v1/machines/${a.uuid}/bootenv`, { bootenv: 'local' }, { token });
    t.equal(wrong.status, 403, 'another machine token gets 403');
    t.equal(((await api('GET', `/api/v1/machines/${a.uuid}`)).body as MachineRecord).bootenv, 'e2e-busybox', 'and changes nothing');
    const own = await api('POST', `/api/v1/machines/${b.uuid}/bootenv`, { bootenv: 'local' }, { token });
    t.equal(own.status, 200, 'its own machine token may');
  });

  const paths: PathSpec[] = [
    {
      name: 'bios-ipxe',
      bootenv: 'e2e-busybox',
      vm: { firmware: 'bios', nic: 'e1000' },
      chain: ['http boot.ipxe', 'http {mac}.ipxe', 'http e2e/vmlinuz', 'http e2e/initramfs.gz', 'http machines/{uuid}/script.sh'],
      gaveUp: /No bootable device/,
    },
    {
      name: 'bios-lpxelinux',
      bootenv: 'e2e-busybox-pxelinux',
      vm: { firmware: 'bios', nic: 'e1000' },
      chain: ['tftp lpxelinux.0', 'tftp ldlinux.c32', 'tftp pxelinux.cfg/01-{mac}', 'tftp e2e/vmlinuz', 'tftp e2e/initramfs.gz', 'http machines/{uuid}/script.sh'],
      gaveUp: /No bootable device/,
    },
    {
      name: 'uefi-pxe-ipxe-efi',
      bootenv: 'e2e-busybox',
      vm: { firmware: 'uefi', nic: 'virtio-net-pci', noRom: true },
      chain: ['tftp ipxe.efi', 'http boot.ipxe', 'http {mac}.ipxe', 'http e2e/vmlinuz', 'http e2e/initramfs.gz', 'http machines/{uuid}/script.sh'],
      gaveUp: /BdsDxe: failed to load Boot\d+ "UEFI PXEv4/,
    },
  ];
  for (const spec of paths) {
    await t.test(spec.name, async (t) => {
      const t0 = Date.now();
      await bootTwice(t, lab, spec);
      t.comment(`${spec.name}: both boots took ${secs(Date.now() - t0)} s`);
    });
  }
});
