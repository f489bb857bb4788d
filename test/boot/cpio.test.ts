import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildCpio } from '../../src/boot/cpio.js';
import { requireTool } from '../helpers/env.js';

t.test('cpio(1) extracts the archive with parents, contents and modes', async (t) => {
  if (!requireTool(t, 'cpio')) return;
  const dir = mkdtempSync(join(tmpdir(), 'fboot-cpio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const archive = buildCpio([
    { path: '/etc/farrier/e2e.env', data: Buffer.from('A=1\n') },
    { path: 'root/.ssh/authorized_keys', data: Buffer.from('ssh-ed25519 AAAA k\n'), mode: 0o600 },
    { path: 'etc/hostname', data: Buffer.from('node1') },
  ]);
  t.equal(archive.length % 512, 0);
  execFileSync('cpio', ['-idm', '--quiet'], { cwd: dir, input: archive });
  t.equal(readFileSync(join(dir, 'etc/farrier/e2e.env'), 'utf8'), 'A=1\n');
  t.equal(readFileSync(join(dir, 'etc/hostname'), 'utf8'), 'node1');
  t.equal(statSync(join(dir, 'root/.ssh/authorized_keys')).mode & 0o777, 0o600);
  t.ok(statSync(join(dir, 'root/.ssh')).isDirectory());
  const listing = execFileSync('cpio', ['-t', '--quiet'], { input: archive }).toString().trim().split('\n');
  t.same(listing, ['etc', 'etc/farrier', 'root', 'root/.ssh', 'etc/farrier/e2e.env', 'root/.ssh/authorized_keys', 'etc/hostname']);
});
