/**
 * contrib/systemd: the unit runs `farrier serve --strict` with only the two capabilities it needs, its state
 * directory and hardening; systemd itself (systemd-analyze verify / security --offline) accepts it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { configOptions, packageRoot } from '../../src/config.js';
import { findTool, requireTool, tempDir } from '../helpers/env.js';

const dir = join(packageRoot, 'contrib', 'systemd');
const unitText = readFileSync(join(dir, 'farrier.service'), 'utf8');

/** Unit file sections → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = new Map();
      out.set(s[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`bad unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

const unit = parseUnit(unitText);
const service = unit.get('Service')!;
const get = (key: string): string | undefined => service.get(key)?.at(-1);
const words = (key: string): string[] => (service.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

t.test('runs farrier serve --strict on the state directory', async (t) => {
  t.ok(unit.has('Unit') && unit.has('Service') && unit.has('Install'), 'Unit, Service and Install sections');
  const exec = get('ExecStart')!.split(/\s+/);
  t.same(exec.slice(0, 2), ['/usr/bin/farrier', 'serve'], 'ExecStart runs farrier serve');
  t.ok(exec.includes('--strict'), '--strict: a port that cannot be bound fails the unit');
  const flags = new Set(['--strict', '--config', ...configOptions.map((o) => o.flag)]);
  for (const f of exec.filter((w) => w.startsWith('--'))) t.ok(flags.has(f.split('=')[0]!), `${f} is a farrier serve flag`);
  t.equal(get('StateDirectory'), 'farrier', 'StateDirectory=farrier');
  t.ok((service.get('Environment') ?? []).includes('FARRIER_DATA_DIR=/var/lib/farrier'), 'the data dir is the state directory');
  t.equal(get('Restart'), 'on-failure');
  t.equal(get('KillSignal'), 'SIGTERM');
  t.match(get('TimeoutStopSec') ?? '', /^\d+s?$/, 'TimeoutStopSec bounds the graceful stop');
  t.match(unit.get('Unit')!.get('After')?.join(' ') ?? '', /network-online\.target/, 'starts after the network is up (interfaces are read at start)');
});

t.test('an unprivileged user with exactly CAP_NET_BIND_SERVICE and CAP_NET_RAW', async (t) => {
  const caps = ['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
  t.same(words('AmbientCapabilities').sort(), caps, 'ambient capabilities');
  t.same(words('CapabilityBoundingSet').sort(), caps, 'nothing else in the bounding set');
  const user = get('User');
  t.ok(user && user !== 'root', `User=${user}`);
  const sysusers = readFileSync(join(dir, 'farrier.sysusers'), 'utf8');
  t.match(sysusers, new RegExp(`^u ${user} `, 'm'), 'the sysusers.d entry creates that user');
});

t.test('hardening', async (t) => {
  const expect: Record<string, string> = {
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    SystemCallFilter: '@system-service',
    SystemCallErrorNumber: 'EPERM',
  };
  for (const [k, v] of Object.entries(expect)) t.equal(get(k), v, `${k}=${v}`);
  t.ok(words('ReadWritePaths').includes('/var/lib/farrier'), 'the data dir is writable');
  t.same(words('RestrictAddressFamilies').sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'], 'IPv4/6, unix sockets, netlink (interface list)');
  t.equal(get('MemoryDenyWriteExecute'), 'no', 'off: V8 JIT needs W+X memory');
  const lines = unitText.split('\n');
  const at = lines.findIndex((l) => l.startsWith('MemoryDenyWriteExecute='));
  t.match(lines[at - 1] ?? '', /^#.*JIT/, 'with a comment saying why');
});

t.test('every FARRIER_ variable in the unit and the example environment file is a real setting', async (t) => {
  const known = new Set([...configOptions.map((o) => o.env), 'FARRIER_CONFIG', 'FARRIER_ADMIN_PASSWORD']);
  const text = unitText + readFileSync(join(dir, 'farrier.default'), 'utf8');
  const used = [...new Set(text.match(/FARRIER_[A-Z_]+/g) ?? [])];
  t.ok(used.length >= 4, `${used.length} variables`);
  for (const v of used) t.ok(known.has(v), `${v} is read by farrier`);
});

/** The unit with ExecStart pointing at this checkout's CLI, since /usr/bin/farrier is not installed here. */
function unitForThisHost(t: Test): string {
  const cli = join(packageRoot, 'dist', 'cli', 'main.js');
  const target = existsSync(cli) ? `${process.execPath} ${cli}` : process.execPath;
  const path = join(tempDir(t, 'fdeploy-unit-'), 'farrier.service');
  writeFileSync(path, unitText.replace(/^ExecStart=\/usr\/bin\/farrier/m, `ExecStart=${target}`));
  return path;
}

t.test('systemd-analyze verify accepts the unit without a warning', async (t) => {
  if (!requireTool(t, 'systemd-analyze')) return;
  const path = unitForThisHost(t);
  const r = spawnSync(findTool('systemd-analyze')!, ['verify', path], { encoding: 'utf8' });
  t.equal(r.status, 0, 'exit 0');
  // Unknown or misspelt keys are only warnings (exit 0): any line about the unit is a failure here.
  t.equal(r.stderr.split('\n').filter((l) => l.includes('farrier.service')).join('\n'), '', 'no warnings about farrier.service');
});

t.test('systemd-analyze security rates the unit OK', async (t) => {
  if (!requireTool(t, 'systemd-analyze')) return;
  const r = spawnSync(findTool('systemd-analyze')!, ['security', '--offline=yes', '--no-pager', unitForThisHost(t)], { encoding: 'utf8' });
  const m = /Overall exposure level for farrier\.service: ([\d.]+)/.exec(r.stdout);
  t.ok(m, 'an exposure level is printed');
  const level = Number(m?.[1]);
  t.ok(level <= 3, `exposure ${level} (0 = locked down, 10 = unprotected)`);
});
