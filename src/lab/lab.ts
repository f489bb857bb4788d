/**
 * `farrier lab up|down`: a Farrier instance on a private network namespace, for trying Farrier (and booting
 * VMs against it) on a laptop without lab hardware. `up` creates the network, starts `farrier serve` inside
 * it as a detached process with its data dir under the lab state dir, and creates a subnet and a demo
 * machine through its API; the state file records what to stop. `down` stops every process by PID and
 * deletes the namespace. Linux and root only (network namespaces, DHCP on port 67).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FarrierError } from '../errors.js';
import { type LabNetwork, createLabNetwork, ip, netnsExists, netnsPids, nsExec } from './netns.js';

export interface LabState extends LabNetwork {
  farrierPid: number;
  url: string;
  password: string;
  dataDir: string;
  log: string;
  demoMac: string;
  /** The VM of a running `lab boot`. */
  qemuPid?: number;
}

export interface LabUpOptions {
  stateDir: string;
  /** Bootenv of the demo machine (default `local`). */
  bootenv?: string;
}

const SUBNET = { name: 'lab', cidr: '10.77.0.0/24', activeStart: '10.77.0.100', activeEnd: '10.77.0.199' };
const SERVER = '10.77.0.1';
const DEMO_MAC = '52:54:00:fa:b0:01';
const stateFile = (dir: string): string => join(dir, 'lab.json');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function writeLabState(stateDir: string, state: LabState): void {
  writeFileSync(stateFile(stateDir), JSON.stringify(state, null, 2), { mode: 0o600 });
}

export function readLabState(stateDir: string): LabState | undefined {
  const f = stateFile(stateDir);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as LabState) : undefined;
}

function requireRoot(): void {
  if (process.platform !== 'linux') throw new FarrierError('UNAVAILABLE', 'farrier lab needs Linux (network namespaces)');
  if (process.getuid?.() !== 0) throw new FarrierError('FORBIDDEN', 'farrier lab needs root: it creates a network namespace and serves DHCP on port 67 inside it (run it with sudo)');
}

/** The command that runs this CLI again: the built main.js, or main.ts through the loader this process runs with. */
function selfCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const main = join(here, '..', '..', 'cli', here.endsWith('.ts') ? 'main.ts' : 'main.js');
  return [...process.execArgv, main];
}

/** An API call from inside the namespace (nothing outside it can reach the lab's addresses). */
export async function labApi(state: Pick<LabState, 'ns' | 'url' | 'password'>, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const data = body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)];
  const out = await nsExec(state.ns, 'curl', ['-sS', '-X', method, '-u', `admin:${state.password}`, ...data, '-w', '\n%{http_code}', `${state.url}${path}`]);
  const cut = out.lastIndexOf('\n');
  let parsed: unknown = out.slice(0, cut);
  try {
    parsed = JSON.parse(out.slice(0, cut));
  } catch {
    // not JSON
  }
  return { status: Number(out.slice(cut + 1)), body: parsed };
}

export async function labUp(opts: LabUpOptions): Promise<LabState> {
  requireRoot();
  const existing = readLabState(opts.stateDir);
  if (existing && (await netnsExists(existing.ns))) throw new FarrierError('CONFLICT', `a lab is already up (namespace ${existing.ns}); run \`farrier lab down\` first`);
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const net: LabNetwork = { ns: `flab-${randomBytes(3).toString('hex')}-${process.pid}`, bridge: 'br0', tap: 'tap0', address: `${SERVER}/24` };
  await createLabNetwork(net);
  const dataDir = join(opts.stateDir, 'data');
  const log = join(opts.stateDir, 'farrier.log');
  const password = randomBytes(12).toString('hex');
  const fd = openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', net.ns, process.execPath, ...selfCommand(), 'serve', '--data-dir', dataDir, '--http-port', '8091', '--dhcp-interfaces', net.bridge, '--strict'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, FARRIER_ADMIN_PASSWORD: password },
  });
  closeSync(fd);
  child.unref();
  const state: LabState = { ...net, farrierPid: child.pid ?? 0, url: `http://${SERVER}:8091`, password, dataDir, log, demoMac: DEMO_MAC };
  writeLabState(opts.stateDir, state);
  try {
    let info: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 600 && info?.status !== 200; i++) {
      if (child.exitCode !== null) throw new FarrierError('UNAVAILABLE', `farrier serve exited in the lab:\n${readFileSync(log, 'utf8').slice(-2000)}`);
      info = await labApi(state, 'GET', '/api/v1/info').catch(() => undefined);
      if (info?.status !== 200) await sleep(200);
    }
    if (info?.status !== 200) throw new FarrierError('UNAVAILABLE', `farrier serve did not answer in the lab:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    const subnet = await labApi(state, 'POST', '/api/v1/subnets', SUBNET);
    if (subnet.status !== 201) throw new FarrierError('UNAVAILABLE', `creating the lab subnet failed: ${JSON.stringify(subnet.body)}`);
    const demo = await labApi(state, 'POST', '/api/v1/machines', { name: 'demo', macs: [DEMO_MAC], bootenv: opts.bootenv ?? 'local', description: 'the lab demo VM' });
    if (demo.status !== 201) throw new FarrierError('UNAVAILABLE', `creating the demo machine failed: ${JSON.stringify(demo.body)}`);
  } catch (err) {
    await labDown({ stateDir: opts.stateDir });
    throw err;
  }
  return state;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (Farrier's graceful stop), up to 15 s, then SIGKILL. */
async function stopPid(pid: number): Promise<void> {
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Stops the lab's processes by PID and deletes its namespace; false when no lab was up. */
export async function labDown(opts: { stateDir: string }): Promise<boolean> {
  requireRoot();
  const state = readLabState(opts.stateDir);
  if (!state) return false;
  if (state.qemuPid) await stopPid(state.qemuPid);
  await stopPid(state.farrierPid);
  if (await netnsExists(state.ns)) {
    for (const pid of await netnsPids(state.ns)) await stopPid(pid);
    await ip('netns', 'del', state.ns);
  }
  rmSync(stateFile(opts.stateDir), { force: true });
  return true;
}
