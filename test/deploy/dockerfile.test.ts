/**
 * The Dockerfile, checked without a Docker engine: its stages and base images, what it copies (every path
 * exists and is in the build context), the user it runs as, its health check, the command (the README's
 * `npm start` plus --strict), the loaders it ships (where the daemon looks for them) and that each Debian
 * package it installs exists. The health check script itself runs against a real daemon.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { debianLoaders } from '../../src/boot/loaders.js';
import { configOptions, loadConfig, packageRoot } from '../../src/config.js';
import { type DaemonService, startDaemon } from '../../src/daemon.js';
import { findTool, requireTool, tempDir } from '../helpers/env.js';
import { aptPackages, dockerIgnored, execForm, parseCopy, parseDockerfile, type Stage } from './helpers/dockerfile.js';

const root = packageRoot;
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages[stages.length - 1]!;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const all = (stage: Stage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const one = (stage: Stage, keyword: string): string => {
  const found = all(stage, keyword);
  if (found.length !== 1) throw new Error(`expected one ${keyword} in the ${stage.name ?? 'final'} stage, found ${found.length}`);
  return found[0]!;
};

t.test('multi-stage build on a Debian slim Node 20 image, every base pinned to a major version', async (t) => {
  t.ok(stages.length >= 2, `${stages.length} stages`);
  t.ok(stages.some((s) => s.name === 'build'), 'a stage named build');
  for (const s of stages) {
    t.match(s.image, /^node:20-bookworm-slim$/, `${s.name ?? 'runtime'} stage uses node:20-bookworm-slim (got ${s.image})`);
    t.notMatch(s.image, /:latest$|^[^:]+$/, 'not :latest and not untagged');
  }
  const build = stages.find((s) => s.name === 'build')!;
  const runs = all(build, 'RUN').join('\n');
  for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev']) t.ok(runs.includes(step), `build stage runs ${step}`);
  t.same(aptPackages(runs).sort(), ['g++', 'make', 'python3'], 'build stage installs the native toolchain for better-sqlite3 and sockopt');
  t.match(runs, /npm rebuild better-sqlite3 sockopt/, 'the native addons are built even though npm ci skips scripts');
});

t.test('every COPY source exists in the repository and is in the build context', async (t) => {
  let checked = 0;
  for (const s of stages) {
    for (const args of all(s, 'COPY')) {
      const c = parseCopy(args);
      if (c.from) {
        t.ok(stages.some((o) => o.name === c.from), `COPY --from=${c.from} names a stage`);
        continue;
      }
      for (const src of c.sources) {
        checked++;
        t.ok(existsSync(join(root, src)), `${src} exists`);
        t.notOk(dockerIgnored(ignore, src), `${src} is not excluded by .dockerignore`);
      }
    }
  }
  t.ok(checked >= 6, `${checked} local COPY sources checked`);
  // The build must not ship what the allow-list is there to keep out.
  for (const p of ['node_modules', 'dist', '.git', 'data', 'test', '.tap']) t.ok(dockerIgnored(ignore, p), `${p} is excluded from the context`);
  // Every file the compiled daemon reads at run time comes along (packageRoot = /opt/farrier).
  const copied = all(runtime, 'COPY').flatMap((a) => parseCopy(a).sources);
  for (const needed of ['package.json', 'openapi.yaml', 'bootenvs', 'templates', '/src/dist', '/src/node_modules']) {
    t.ok(copied.includes(needed), `runtime stage copies ${needed}`);
  }
});

t.test('runs as a non-root user with the capabilities to bind 67/69', async (t) => {
  const user = one(runtime, 'USER');
  t.notMatch(user, /^(root|0)(:|$)/, `USER ${user} is not root`);
  const runs = all(runtime, 'RUN').join('\n');
  t.match(runs, new RegExp(`useradd [^&]*\\b${user}\\b`), `user ${user} is created`);
  t.match(runs, /setcap cap_net_bind_service,cap_net_raw=\+ep \/usr\/local\/bin\/node/, 'node gets CAP_NET_BIND_SERVICE and CAP_NET_RAW');
  t.match(runs, /apt-get purge -y --auto-remove libcap2-bin/, 'libcap2-bin is removed after setcap');
  t.ok(runs.indexOf('setcap') < runs.indexOf('purge'), 'setcap runs before the purge');
});

t.test('data volume, environment and exposed ports match the daemon configuration', async (t) => {
  const volume = one(runtime, 'VOLUME');
  const env = all(runtime, 'ENV').join(' ');
  const dataDir = /FARRIER_DATA_DIR=(\S+)/.exec(env)?.[1];
  t.equal(dataDir, volume, 'FARRIER_DATA_DIR is the volume');
  const known = new Set(configOptions.map((o) => o.env));
  for (const name of env.match(/FARRIER_[A-Z_]+/g) ?? []) t.ok(known.has(name), `${name} is a daemon setting`);
  const cfg = loadConfig({}, {});
  const exposed = one(runtime, 'EXPOSE').split(/\s+/).sort();
  t.same(exposed, [`${cfg.dhcpPort}/udp`, `${cfg.tftpPort}/udp`, `${cfg.proxyDhcpPort}/udp`, `${cfg.httpPort}/tcp`].sort(), 'the default ports');
});

t.test('CMD is the README/package.json start command plus --strict', async (t) => {
  const cmd = execForm(one(runtime, 'CMD'));
  t.ok(cmd, 'exec form, so SIGTERM reaches node directly');
  t.same(cmd, [...pkg.scripts.start!.split(/\s+/), '--strict'], `package.json start is "${pkg.scripts.start}"`);
  t.notOk(all(runtime, 'ENTRYPOINT').length, 'no ENTRYPOINT wraps it');
  const main = join(root, 'src', 'cli', 'main.ts');
  t.ok(existsSync(main), 'dist/cli/main.js is compiled from src/cli/main.ts');
  const readme = join(root, 'README.md');
  if (existsSync(readme)) t.match(readFileSync(readme, 'utf8'), /npm start/, 'the README starts the daemon with npm start');
});

t.test('the image ships every loader at the path the daemon looks for it', async (t) => {
  const runs = all(runtime, 'RUN').join('\n');
  const installed = new Set(aptPackages(runs));
  const copiedTo = new Set(all(runtime, 'COPY').map((a) => parseCopy(a)).filter((c) => c.from === 'loaders').map((c) => c.dest));
  const loaderStage = stages.find((s) => s.name === 'loaders');
  const downloaded = new Set(loaderStage ? aptPackages(all(loaderStage, 'RUN').join('\n')) : []);
  for (const l of debianLoaders) {
    if (l.hint) continue; // not packaged by Debian 12 (arm64 iPXE): the daemon says how to provide it
    if (l.package === 'grub-efi-arm64-signed') continue; // arm64 GRUB is for arm64 hosts' machines; not in an amd64 image
    if (installed.has(l.package)) t.pass(`${l.name}: package ${l.package} installed`);
    else {
      t.ok(downloaded.has(l.package), `${l.name}: package ${l.package} unpacked in the loaders stage`);
      t.ok(copiedTo.has(l.path), `${l.name} copied to ${l.path}`);
    }
  }
  t.ok(installed.has('libarchive-tools'), 'bsdtar for unpacking ISOs');
});

t.test('every Debian package the Dockerfile names exists in bookworm', async (t) => {
  if (!requireTool(t, 'apt-cache')) return;
  const names = [...new Set(stages.flatMap((s) => aptPackages(all(s, 'RUN').join('\n'))))];
  t.ok(names.length >= 8, `${names.length} packages: ${names.join(' ')}`);
  // One call for all names: apt-cache prints what it knows and exits non-zero if any name is unknown.
  let out = '';
  try {
    out = execFileSync(findTool('apt-cache')!, ['show', '--no-all-versions', ...names], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  for (const name of names) t.match(out, new RegExp(`^Package: ${name.replace(/[+.]/g, '\\$&')}$`, 'm'), `apt-cache knows ${name}`);
});

/** A free TCP port on loopback (listen on 0, read it, close). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

t.test('the HEALTHCHECK script reports a running daemon healthy and a dead one unhealthy', async (t) => {
  const hc = one(runtime, 'HEALTHCHECK');
  const cmd = execForm(hc.replace(/^.*?CMD\s+/, ''));
  t.same(cmd, ['node', 'contrib/docker/healthcheck.mjs'], 'node runs the script (no curl in the image)');
  t.match(hc, /--interval=\S+/, 'interval set');
  const script = join(root, 'contrib', 'docker', 'healthcheck.mjs');
  const run = promisify(execFile);
  const check = async (port: number): Promise<{ code: number; stderr: string }> => {
    try {
      await run(process.execPath, [script], { env: { PATH: process.env.PATH, FARRIER_HTTP_PORT: String(port), FARRIER_HTTP_HOST: '127.0.0.1' } });
      return { code: 0, stderr: '' };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  };

  const config = loadConfig({ dataDir: tempDir(t, 'fdeploy-'), httpPort: 0, httpHost: '127.0.0.1', dhcpEnabled: false, tftpEnabled: false, logLevel: 'silent' }, {});
  const daemon = await startDaemon(config, { handleSignals: false, env: { FARRIER_ADMIN_PASSWORD: 'health-check-1' } });
  const port = daemon.status().http!.port;
  const healthy = await check(port);
  t.equal(healthy.code, 0, `healthy against the live daemon on ${port}${healthy.stderr ? `: ${healthy.stderr}` : ''}`);
  await daemon.close();
  const dead = await check(port);
  t.equal(dead.code, 1, 'unhealthy once the daemon is gone');
  t.match(dead.stderr, /api\/v1\/info/, 'says which URL failed');

  // A service that could not bind (no --strict) leaves the API up but the container unhealthy.
  const blocker = createSocket('udp4');
  await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const busy = blocker.address().port;
  const tftpLike: DaemonService = {
    name: 'TFTP', infoKey: 'tftp', port: busy, portFlag: '--tftp-port', enabled: true,
    start: () => new Promise<void>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', (err) => { s.close(); reject(err); });
      s.bind(busy, '127.0.0.1', () => { s.close(); resolve(); });
    }),
    stop: async () => undefined,
  };
  const degraded = await startDaemon({ ...config, dataDir: tempDir(t, 'fdeploy-') }, { handleSignals: false, services: [tftpLike], env: { FARRIER_ADMIN_PASSWORD: 'health-check-1' } });
  const sick = await check(degraded.status().http!.port);
  await degraded.close();
  t.equal(sick.code, 1, 'unhealthy while a service reports a bind error');
  t.match(sick.stderr, new RegExp(`tftp: .*port ${busy} is already in use`), 'names the service and the cause');

  const nothing = await check(await freePort());
  t.equal(nothing.code, 1, 'unhealthy when nothing listens');
});
