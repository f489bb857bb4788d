/**
 * The boot tree over the real core services and SQLite store: what an API change does to the very next
 * boot-file request, real machine tokens, secure params.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { createBootLayer } from '../../src/boot/index.js';
import { loadConfig } from '../../src/config.js';
import { loadRepoContent } from '../../src/core/content.js';
import { createServices } from '../../src/core/services.js';
import { EventBus } from '../../src/events/bus.js';
import type { TreeEntry } from '../../src/boot/tree.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { repoRoot } from './fixtures.js';

const client = { address: '10.77.0.50', port: 2000, localAddress: '10.77.0.1' };
const text = (e: TreeEntry): string => {
  if (e.kind !== 'buffer') throw new Error(`expected a rendered file, got ${JSON.stringify(e)}`);
  return e.data.toString('utf8');
};

t.test('boot files follow the API: bootenv changes, params, tokens, secure params', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fboot-core-'));
  const store = await openSqliteStore(join(dir, 'farrier.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'files/e2e'), { recursive: true });
  writeFileSync(join(dir, 'files/e2e/vmlinuz'), 'K');
  writeFileSync(join(dir, 'files/e2e/initramfs.gz'), 'I');
  const bus = new EventBus();
  const logger = pino({ level: 'silent' });
  const services = await createServices(store, bus, logger, { content: await loadRepoContent(repoRoot), tokenKey: Buffer.alloc(32, 7), tokenTtl: 3600, machineTokenTtl: 3600 });
  const config = { ...loadConfig({}, {}), dataDir: dir, httpPort: 8091, staticIp: null, loaderPaths: {} };
  const { tree } = createBootLayer(services, config, logger);

  const m = await services.machines.create({ name: 'vm1', macs: ['52:54:00:12:34:56'], address: '10.77.0.50' });
  const other = await services.machines.create({ name: 'vm2', macs: ['52:54:00:12:34:57'] });
  t.equal(m.bootenv, 'local');
  t.match(text(await tree.lookup('52-54-00-12-34-56.ipxe', client)), /\nexit\n/, 'a new machine in local boots its disk');

  await services.machines.editParams(m.uuid, { kind: 'set', name: 'e2e/nonce', value: 'nonce-1' });
  await services.machines.editParams(m.uuid, { kind: 'set', name: 'root-password-hash', value: '$6$only-vm1' });
  await services.machines.setBootEnv(m.uuid, 'e2e-busybox');
  const ipxe = text(await tree.lookup('52-54-00-12-34-56.ipxe', client));
  t.match(ipxe, 'kernel http://10.77.0.1:8091/e2e/vmlinuz initrd=initramfs.gz initrd=config.cpio console=ttyS0');
  t.match(ipxe, `initrd http://10.77.0.1:8091/machines/${m.uuid}/config.cpio`, 'the bootenv\'s configInitrd is appended');
  t.match(ipxe, `cfg=http://10.77.0.1:8091/machines/${m.uuid}/cloud-init`);
  t.match(text(await tree.lookup('pxelinux.cfg/0A4D0032', client)), 'KERNEL e2e/vmlinuz', 'by IP as well');

  const ci = text(await tree.lookup(`machines/${m.uuid}/cloud-init`, client));
  t.equal(ci.split('\n')[0], '#cloud-config run=nonce-1 mac=52:54:00:12:34:56');
  const token = /farrier_token: (\S+)/.exec(ci)?.[1] ?? '';
  t.same(await services.tokens.check(token), { kind: 'machine', uuid: m.uuid }, 'the rendered token is this machine\'s');
  await services.machines.rotateTokenSecret(m.uuid);
  t.equal(await services.tokens.check(token), undefined, 'rotating the secret revokes it');

  await services.templates.create({ id: 'probe', contents: 'pw={{default params.root-password-hash "none"}}' });
  await services.bootenvs.create({ name: 'probe-env', os: { name: 'e2e' }, kernel: 'vmlinuz', initrds: ['initramfs.gz'], templates: [{ name: 'probe', path: '{{machine.path}}/probe', templateId: 'probe' }] });
  await services.machines.setBootEnv(m.uuid, 'probe-env');
  await services.machines.setBootEnv(other.uuid, 'probe-env');
  t.equal(text(await tree.lookup(`machines/${m.uuid}/probe`, client)), 'pw=$6$only-vm1');
  t.equal(text(await tree.lookup(`machines/${other.uuid}/probe`, client)), 'pw=none', 'secure value stays in its machine\'s files');
  await services.templates.replace('probe', { contents: 'v2 {{machine.name}}' });
  t.equal(text(await tree.lookup(`machines/${m.uuid}/probe`, client)), 'v2 vm1', 'an edited template is served at the next request');
});
