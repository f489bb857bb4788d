/**
 * The privilege model of the Docker image and the systemd unit, for real: an unprivileged user runs
 * `farrier serve --strict` on the default ports 67, 69, 4011 and 8091 with a node binary that carries
 * `cap_net_bind_service,cap_net_raw=+ep` (what the Dockerfile's setcap does), and the same user without those
 * capabilities is refused with the remedy. It runs inside a network namespace this test creates (a veth pair,
 * both ends inside), so nothing binds or sends on the host's interfaces.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { packageRoot } from '../../src/config.js';
import { findTool, isCI, requireNetns, requireTool, tempDir } from '../helpers/env.js';

const NOBODY = 65534;
const cli = join(packageRoot, 'dist', 'cli', 'main.js');
const healthcheck = join(packageRoot, 'contrib', 'docker', 'healthcheck.mjs');

function ip(...args: string[]): string {
  return execFileSync(findTool('ip')!, args, { encoding: 'utf8' });
}

function makeNamespace(t: Test): string {
  const ns = `fdeploy-${Math.random().toString(16).slice(2, 8)}`;
  ip('netns', 'add', ns);
  t.teardown(() => ip('netns', 'del', ns));
  const inNs = (...args: string[]): string => ip('netns', 'exec', ns, 'ip', ...args);
  inNs('link', 'set', 'lo', 'up');
  inNs('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  inNs('addr', 'add', '10.77.0.1/24', 'dev', 'v0');
  inNs('link', 'set', 'v0', 'up');
  // The peer must be up too: an interface without carrier is not listed by Node, so DHCP would not see it.
  inNs('link', 'set', 'v1', 'up');
  return ns;
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `node dist/cli/main.js serve --strict` as nobody inside the namespace, with the given node binary. */
function serveAsNobody(t: Test, ns: string, node: string, dataDir: string): Run {
  const child = spawn(
    findTool('ip')!,
    ['netns', 'exec', ns, findTool('setpriv')!, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all', node, cli, 'serve', '--strict'],
    {
      env: {
        PATH: process.env.PATH,
        FARRIER_DATA_DIR: dataDir,
        FARRIER_DHCP_INTERFACES: 'v0',
        FARRIER_ADMIN_PASSWORD: 'privileges-test-1',
        FARRIER_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  return { child, output: () => out, exited };
}

/** Runs a node script inside the namespace (as root: it only talks to the daemon over the namespace's loopback). */
function nodeInNs(ns: string, args: string[]): { code: number; out: string } {
  try {
    const out = execFileSync(findTool('ip')!, ['netns', 'exec', ns, process.execPath, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, FARRIER_HTTP_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

t.test('an unprivileged user serves 67/69/4011/8091 with a setcap node, and is refused without it', async (t) => {
  if (!requireNetns(t) || !requireTool(t, 'setcap') || !requireTool(t, 'setpriv')) return;
  if (!existsSync(cli)) {
    if (isCI()) t.fail(`${cli} is missing: npm ci builds it (prepare script)`);
    else t.plan(0, `needs the compiled CLI (${cli}): run npm run build`);
    return;
  }
  const built = statSync(cli).mtimeMs;
  const newer = readdirSync(join(packageRoot, 'src'), { recursive: true })
    .map((f) => join(packageRoot, 'src', String(f)))
    .filter((f) => f.endsWith('.ts') && statSync(f).mtimeMs > built);
  if (newer.length > 0) {
    if (isCI()) t.fail(`dist/ is older than ${newer[0]}: the CI build did not run`);
    else t.plan(0, `dist/ is older than ${newer[0]}: run npm run build`);
    return;
  }
  const ns = makeNamespace(t);
  const dir = tempDir(t, 'fdeploy-caps-');
  chmodSync(dir, 0o755);
  const capNode = join(dir, 'node');
  copyFileSync(process.execPath, capNode);
  chmodSync(capNode, 0o755);
  execFileSync(findTool('setcap')!, ['cap_net_bind_service,cap_net_raw=+ep', capNode]);
  const plainNode = join(dir, 'node-plain');
  copyFileSync(process.execPath, plainNode);
  chmodSync(plainNode, 0o755);
  const dataDir = (name: string): string => {
    const d = join(dir, name);
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, NOBODY, NOBODY);
    return d;
  };

  await t.test('without capabilities: --strict exits naming the port and the remedy', async (t) => {
    const run = serveAsNobody(t, ns, plainNode, dataDir('plain'));
    const code = await run.exited;
    t.not(code, 0, `exit code ${code}`);
    t.match(run.output(), /port (67|69) needs root or CAP_NET_BIND_SERVICE/, 'says which port and what is missing');
    t.match(run.output(), /setcap cap_net_bind_service/, 'and how to fix it');
  });

  await t.test('with the image\'s file capabilities: every service binds, the health check passes', async (t) => {
    const run = serveAsNobody(t, ns, capNode, dataDir('caps'));
    let health = { code: -1, out: '' };
    for (let i = 0; i < 120 && run.child.exitCode === null; i++) {
      health = nodeInNs(ns, [healthcheck]);
      if (health.code === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    t.equal(run.child.exitCode, null, 'still running');
    t.equal(health.code, 0, `healthcheck.mjs passes${health.code === 0 ? '' : `: ${health.out}\n${run.output()}`}`);
    const info = nodeInNs(ns, ['-e', "fetch('http://127.0.0.1:8091/api/v1/info').then((r) => r.json()).then((i) => console.log(JSON.stringify(i.services)))"]);
    const services = JSON.parse(info.out || '{}') as Record<string, { enabled: boolean; port: number; error?: string }>;
    t.match(services, { dhcp: { enabled: true, port: 67 }, tftp: { enabled: true, port: 69 }, http: { enabled: true, port: 8091 } }, 'DHCP on 67, TFTP on 69, HTTP on 8091');
    for (const [name, s] of Object.entries(services)) t.notOk(s.error, `${name}: no error`);
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${run.child.pid}/status`, 'utf8'))?.[1];
    t.equal(uid, String(NOBODY), `the daemon runs as uid ${NOBODY}`);
    run.child.kill('SIGTERM');
    t.equal(await run.exited, 0, 'SIGTERM: a clean exit');
  });
});
