import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { debianLoaders, discoverLoaders } from '../../src/boot/loaders.js';
import { isCI } from '../helpers/env.js';

t.test('found loaders are exposed by name; missing ones warn with the Debian package', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fboot-loaders-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mods = join(dir, 'bios');
  mkdirSync(mods);
  writeFileSync(join(mods, 'menu.c32'), 'MENU');
  writeFileSync(join(mods, 'ldlinux.c32'), 'LDLINUX');
  writeFileSync(join(dir, 'undionly.kpxe'), 'UNDI');
  const specs = [
    { name: 'undionly.kpxe', path: join(dir, 'undionly.kpxe'), package: 'ipxe', essential: true },
    { name: 'lpxelinux.0', path: join(dir, 'missing/lpxelinux.0'), package: 'pxelinux', essential: true },
    { name: 'ldlinux.c32', path: join(mods, 'ldlinux.c32'), package: 'syslinux-common', essential: true },
    { name: 'shimx64.efi', path: join(dir, 'missing/shim'), package: 'shim-signed', essential: false },
  ];
  const set = discoverLoaders({}, specs, mods);
  t.same([...set.files.keys()].sort(), ['ldlinux.c32', 'menu.c32', 'undionly.kpxe']);
  t.same(set.warnings, [`loader lpxelinux.0 not found at ${join(dir, 'missing/lpxelinux.0')}: install the Debian package pxelinux or set loaderPaths.lpxelinux.0`]);
  t.match(set.status.find((s) => s.name === 'shimx64.efi'), { found: false, package: 'shim-signed' }, 'optional loaders are listed but do not warn');
  t.match(set.status.find((s) => s.name === 'undionly.kpxe'), { found: true, size: 4 });

  const over = discoverLoaders({ 'lpxelinux.0': join(dir, 'undionly.kpxe'), 'extra.efi': join(dir, 'undionly.kpxe') }, specs, mods);
  t.equal(over.files.get('lpxelinux.0')?.path, join(dir, 'undionly.kpxe'), 'override replaces the packaged path');
  t.ok(over.files.has('extra.efi'), 'override can add a loader name');
  t.same(over.warnings, []);
});

t.test('the Debian packages installed here are found at their packaged paths', async (t) => {
  if (!existsSync('/usr/lib/ipxe/undionly.kpxe')) {
    const why = 'Debian packages ipxe, pxelinux, syslinux-common not installed (scripts/install-test-deps.sh)';
    if (isCI()) t.fail(why);
    else t.plan(0, why);
    return;
  }
  const set = discoverLoaders();
  for (const name of ['undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'pxelinux.0', 'lpxelinux.0', 'ldlinux.c32']) {
    t.equal(set.files.get(name)?.path, debianLoaders.find((l) => l.name === name)?.path, name);
  }
  t.ok(set.files.has('libutil.c32'), 'syslinux modules come along');
});
