import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FarrierError } from '../../src/errors.js';
import { discoverLoaders } from '../../src/boot/loaders.js';
import { Renderer } from '../../src/boot/render.js';
import { StaticRoot } from '../../src/boot/staticFiles.js';
import { BootTree, type TreeEntry } from '../../src/boot/tree.js';
import { bootEnvFrom, machine, MemoryBootData } from './fixtures.js';

const client = { address: '10.77.0.50', port: 2000, localAddress: '10.77.0.1' };
const uuid = '3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b';

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'fboot-tree-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'files');
  mkdirSync(join(root, 'flatcar'), { recursive: true });
  mkdirSync(join(root, 'pxelinux.cfg'), { recursive: true });
  writeFileSync(join(root, 'flatcar/flatcar_production_pxe.vmlinuz'), 'KERNEL');
  writeFileSync(join(root, 'pxelinux.cfg/01-52-54-00-12-34-56'), 'STATIC SHADOWED');
  writeFileSync(join(root, 'pxelinux.cfg/01-52-54-00-aa-aa-aa'), 'STATIC FOR UNKNOWN MAC');
  writeFileSync(join(dir, 'secret'), 'outside');
  symlinkSync(join(dir, 'secret'), join(root, 'escape'));
  const loaderFile = join(dir, 'undionly.kpxe');
  writeFileSync(loaderFile, 'LOADER');
  const loaders = discoverLoaders({ 'undionly.kpxe': loaderFile }, [], join(dir, 'no-modules'));
  const data = new MemoryBootData();
  const m = machine({ bootenv: 'flatcar' });
  data.machines.push(m);
  const tree = new BootTree(data, new Renderer(data), { httpPort: 8091, staticIp: null }, loaders, new StaticRoot(root));
  return { data, tree, m, root, dir };
}

const text = (e: TreeEntry): string => {
  if (e.kind !== 'buffer') throw new Error(`expected a rendered file, got ${JSON.stringify(e)}`);
  return e.data.toString('utf8');
};

t.test('pxelinux: per-MAC and per-IP entries of a known machine, default for the unknown', async (t) => {
  const { tree, m } = setup(t);
  for (const p of ['pxelinux.cfg/01-52-54-00-12-34-56', '/pxelinux.cfg/0A4D0032']) {
    const e = await tree.lookup(p, client);
    const cfg = text(e);
    t.match(cfg, 'KERNEL flatcar/flatcar_production_pxe.vmlinuz', p);
    t.match(cfg, 'INITRD flatcar/flatcar_production_pxe_image.cpio.gz');
    t.match(cfg, `APPEND flatcar.first_boot=1 ignition.config.url=http://10.77.0.1:8091/machines/${uuid}/ignition.json`);
    t.match(cfg, 'IPAPPEND 2');
    t.same(e.machine, { uuid: m.uuid, mac: '52:54:00:12:34:56' });
  }
  const unknown = await tree.lookup('pxelinux.cfg/01-52-54-00-99-99-99', client);
  t.equal(unknown.kind, 'missing');
  t.match(unknown.kind === 'missing' ? unknown.reason : '', 'no machine with MAC 52-54-00-99-99-99');
  t.equal((await tree.lookup('pxelinux.cfg/0A4D00', client)).kind, 'missing', 'hex prefixes are not machines');
  t.match(text(await tree.lookup('pxelinux.cfg/default', client)), 'LOCALBOOT 0', 'unknownBootEnv ignore boots the disk');
  const st = await tree.lookup('pxelinux.cfg/01-52-54-00-aa-aa-aa', client);
  t.equal(st.kind, 'file', 'an unknown MAC falls through to a static file of that name');
});

t.test('iPXE: boot.ipxe chains by MAC; per-MAC scripts for known and unknown machines', async (t) => {
  const { tree } = setup(t);
  const boot = text(await tree.lookup('boot.ipxe', client));
  t.match(boot, /^#!ipxe\n/);
  t.match(boot, 'chain --autofree http://10.77.0.1:8091/${mac:hexhyp}.ipxe');
  for (const p of ['52-54-00-12-34-56.ipxe', '52:54:00:12:34:56.ipxe']) {
    const s = text(await tree.lookup(p, client));
    t.match(s, 'kernel http://10.77.0.1:8091/flatcar/flatcar_production_pxe.vmlinuz initrd=flatcar_production_pxe_image.cpio.gz flatcar.first_boot=1');
    t.match(s, 'initrd http://10.77.0.1:8091/flatcar/flatcar_production_pxe_image.cpio.gz');
    t.match(s, /\nboot\n/);
  }
  const unknown = text(await tree.lookup('52-54-00-99-99-99.ipxe', client));
  t.match(unknown, /\nexit\n/, 'an unknown MAC follows unknownBootEnv (ignore: exit to local disk)');
  t.equal(text(await tree.lookup('default.ipxe', client)), unknown);
});

t.test('GRUB: grub.cfg chooses by $net_default_mac; per-MAC and per-IP files', async (t) => {
  const { tree } = setup(t);
  t.match(text(await tree.lookup('grub/grub.cfg', client)), 'configfile /grub/grub.cfg-01-$net_default_mac');
  for (const p of ['grub/grub.cfg-01-52-54-00-12-34-56', 'grub/grub.cfg-01-52:54:00:12:34:56', 'grub/grub.cfg-0A4D0032']) {
    const cfg = text(await tree.lookup(p, client));
    t.match(cfg, 'linux /flatcar/flatcar_production_pxe.vmlinuz flatcar.first_boot=1', p);
    t.match(cfg, 'initrd /flatcar/flatcar_production_pxe_image.cpio.gz');
  }
  t.match(text(await tree.lookup('grub/grub.cfg-01-52:54:00:99:99:99', client)), /\n\s+exit\n/);
});

t.test('a machine in bootenv local boots from disk on every loader', async (t) => {
  const { tree, m } = setup(t);
  m.bootenv = 'local';
  t.match(text(await tree.lookup('52-54-00-12-34-56.ipxe', client)), /\nexit\n/);
  t.notMatch(text(await tree.lookup('52-54-00-12-34-56.ipxe', client)), 'kernel');
  t.match(text(await tree.lookup('pxelinux.cfg/01-52-54-00-12-34-56', client)), 'LOCALBOOT 0');
  t.match(text(await tree.lookup('grub/grub.cfg-01-52-54-00-12-34-56', client)), /\n\s+exit\n/);
});

t.test('machines/<uuid>/ files come from the bootenv templates', async (t) => {
  const { tree } = setup(t);
  const ign = JSON.parse(text(await tree.lookup(`machines/${uuid}/ignition.json`, client)));
  t.equal(ign.ignition.version, '3.3.0');
  const none = await tree.lookup(`machines/${uuid}/nosuch`, client);
  t.match(none.kind === 'missing' ? none.reason : '', 'bootenv flatcar of machine node1.lab has no file');
  const other = await tree.lookup('machines/00000000-0000-0000-0000-000000000000/ignition.json', client);
  t.match(other.kind === 'missing' ? other.reason : '', 'no machine');
});

t.test('config.cpio: a per-machine newc archive appended as an extra initrd', async (t) => {
  const { tree, m } = setup(t);
  m.bootenv = 'linuxkit';
  m.params = { 'ssh-keys': ['ssh-ed25519 AAAA k'] };
  const ipxe = text(await tree.lookup('52-54-00-12-34-56.ipxe', client));
  t.match(ipxe, `initrd http://10.77.0.1:8091/machines/${uuid}/config.cpio`);
  t.match(ipxe, 'initrd=linuxkit-initrd.img initrd=config.cpio');
  const e = await tree.lookup(`machines/${uuid}/config.cpio`, client);
  if (e.kind !== 'buffer') throw new Error('no cpio');
  const s = e.data.toString('latin1');
  t.ok(s.startsWith('070701'));
  t.match(s, 'etc/hostname\0');
  t.match(s, 'node1.lab');
  t.match(s, 'root/.ssh/authorized_keys\0');
  t.match(s, 'ssh-ed25519 AAAA k');
  t.match(s, 'TRAILER!!!');
  t.equal(e.data.length % 512, 0);
});

t.test('a bootenv may override a loader template', async (t) => {
  const { tree, data, m } = setup(t);
  data.bootenvs.set('custom', bootEnvFrom({ name: 'custom', kernel: 'k', templates: [{ name: 'ipxe', path: '{{machine.path}}/ipxe', contents: '#!ipxe\necho custom {{machine.name}}\n' }] }));
  m.bootenv = 'custom';
  t.equal(text(await tree.lookup('52-54-00-12-34-56.ipxe', client)), '#!ipxe\necho custom node1.lab\n');
  t.match(text(await tree.lookup('pxelinux.cfg/01-52-54-00-12-34-56', client)), 'KERNEL custom/k', 'other loaders keep the built-in');
});

t.test('default entries of the unknownBootEnv are served to everyone', async (t) => {
  const { tree, data } = setup(t);
  data.bootenvs.set('disc', bootEnvFrom({ name: 'disc', onlyUnknown: true, kernel: '/disc/vmlinuz', templates: [{ name: 'start', path: 'discovery/start.sh', contents: '#!/bin/sh\necho {{provisionerUrl}}\n' }] }));
  data.unknown = 'disc';
  t.equal(text(await tree.lookup('discovery/start.sh', client)), '#!/bin/sh\necho http://10.77.0.1:8091\n');
  t.match(text(await tree.lookup('pxelinux.cfg/default', client)), 'KERNEL disc/vmlinuz');
});

t.test('loaders and static files; confinement to the boot root', async (t) => {
  const { tree, root } = setup(t);
  const l = await tree.lookup('undionly.kpxe', client);
  t.equal(l.kind, 'file');
  t.equal(l.kind === 'file' ? l.size : 0, 6);
  const k = await tree.lookup('flatcar/flatcar_production_pxe.vmlinuz', client);
  t.same(k.kind === 'file' ? [k.path, k.size] : [], [join(root, 'flatcar/flatcar_production_pxe.vmlinuz'), 6]);
  t.equal((await tree.lookup('flatcar\\flatcar_production_pxe.vmlinuz', client)).kind, 'file', 'backslashes are separators');
  t.equal(text(await tree.lookup('pxelinux.cfg/01-52-54-00-12-34-56', client)).includes('STATIC'), false, 'rendered entries win over static files');
  const up = await tree.lookup('../secret', client);
  t.match(up.kind === 'missing' ? up.reason : '', 'climbs out');
  const link = await tree.lookup('escape', client);
  t.match(link.kind === 'missing' ? link.reason : '', 'outside the boot root');
  t.equal((await tree.lookup('nothing/here', client)).kind, 'missing');
});

t.test('a render failure is a RENDER error naming the param, and an event', async (t) => {
  const { tree, data, m } = setup(t);
  m.bootenv = 'e2e-busybox';
  let err: unknown;
  try {
    await tree.lookup(`machines/${uuid}/cloud-init`, client);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof FarrierError);
  t.match((err as Error).message, 'template e2e-cloud-init line 1: param "e2e/nonce" is not set');
  const ev = data.events.find((e) => e.type === 'render');
  t.equal(ev?.key, uuid);
  m.params = { 'e2e/nonce': 'n-123' };
  t.match(text(await tree.lookup(`machines/${uuid}/cloud-init`, client)), '#cloud-config run=n-123 mac=52:54:00:12:34:56');
});

t.test('the provisioner URL follows the address the client reached, or the static IP', async (t) => {
  const { data, m } = setup(t);
  m.bootenv = 'flatcar';
  const loaders = discoverLoaders({}, [], '/nonexistent');
  const tree = new BootTree(data, new Renderer(data), { httpPort: 8091, staticIp: '192.0.2.9' }, loaders, new StaticRoot('/nonexistent'));
  t.match(text(await tree.lookup('52-54-00-12-34-56.ipxe', client)), 'http://192.0.2.9:8091/flatcar/');
});

t.test('renderForMachine shows what a machine would receive', async (t) => {
  const { tree } = setup(t);
  const url = 'http://10.77.0.1:8091';
  t.match(text(await tree.renderForMachine(uuid, 'ipxe', url)), 'kernel http://10.77.0.1:8091/flatcar/');
  t.match(text(await tree.renderForMachine(uuid, 'pxelinux', url)), 'IPAPPEND 2');
  t.match(text(await tree.renderForMachine(uuid, 'grub', url)), 'linux /flatcar/');
  t.equal(JSON.parse(text(await tree.renderForMachine(uuid, 'ignition.json', url))).ignition.version, '3.3.0');
  t.match(text(await tree.renderForMachine(uuid, `machines/${uuid}/ignition.json`, url)), '"3.3.0"');
  const none = await tree.renderForMachine('nope', 'ipxe', url);
  t.equal(none.kind, 'missing');
});
