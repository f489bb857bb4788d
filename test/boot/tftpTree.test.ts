/**
 * The same boot tree over TFTP (the tftp/ server with this tree as its BootTree), fetched with atftp:
 * rendered per-MAC files, static files, and a render failure as a TFTP error.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { discoverLoaders } from '../../src/boot/loaders.js';
import { Renderer } from '../../src/boot/render.js';
import { StaticRoot } from '../../src/boot/staticFiles.js';
import { BootTree } from '../../src/boot/tree.js';
import { startTftpServer } from '../../src/tftp/server.js';
import { requireTool } from '../helpers/env.js';
import { machine, MemoryBootData } from './fixtures.js';

const run = promisify(execFile);

t.test('TFTP serves rendered and static files of the tree; render errors are TFTP errors', async (t) => {
  if (!requireTool(t, 'atftp')) return;
  const dir = mkdtempSync(join(tmpdir(), 'fboot-tftp-'));
  const root = join(dir, 'files');
  mkdirSync(join(root, 'flatcar'), { recursive: true });
  const kernel = Buffer.alloc(300_000, 7);
  writeFileSync(join(root, 'flatcar/flatcar_production_pxe.vmlinuz'), kernel);
  const data = new MemoryBootData();
  const m = machine({ bootenv: 'flatcar' });
  data.machines.push(m);
  const tree = new BootTree(data, new Renderer(data), { httpPort: 8091, staticIp: null }, discoverLoaders({}, [], '/nonexistent'), new StaticRoot(root));
  const server = await startTftpServer({ host: '127.0.0.1', port: 0, tree });
  t.teardown(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (remote: string, local: string) =>
    run('atftp', ['--option', 'blksize 1428', '-g', '-r', remote, '-l', join(dir, local), '127.0.0.1', String(server.port)]);

  await get('pxelinux.cfg/01-52-54-00-12-34-56', 'cfg');
  const cfg = readFileSync(join(dir, 'cfg'), 'utf8');
  t.match(cfg, 'KERNEL flatcar/flatcar_production_pxe.vmlinuz');
  t.match(cfg, 'APPEND flatcar.first_boot=1 ignition.config.url=http://127.0.0.1:8091/machines/', 'provisioner address is the one facing the client');

  await get('flatcar/flatcar_production_pxe.vmlinuz', 'kernel');
  t.ok(readFileSync(join(dir, 'kernel')).equals(kernel), 'static file byte-identical');

  m.bootenv = 'e2e-busybox';
  const failed = await get(`machines/${m.uuid}/cloud-init`, 'ci').then(
    () => undefined,
    (err: { stderr?: string }) => err.stderr ?? 'failed',
  );
  t.ok(failed, 'atftp reports the failed render');
  t.ok(data.events.some((e) => e.type === 'render' && e.key === m.uuid), 'the render failure is evented');
});
