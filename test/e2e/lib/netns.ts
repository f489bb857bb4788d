/**
 * Network namespaces for tests: unique names, veth pairs and bridge+TAP created *inside* namespaces (the root
 * namespace's interfaces are never touched), commands and long-running processes run inside them, and an
 * IPv6 RA-only dnsmasq (iPXE waits ~13 s for router advertisements when none arrive).
 * Everything registers its cleanup on t.teardown; processes are stopped by PID, never by name.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { findTool, tempDir } from '../../helpers/env.js';

const execFileP = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs `ip` with arguments; rejects with stderr on failure. */
export async function ip(...args: string[]): Promise<ExecResult> {
  try {
    return await execFileP(findTool('ip') ?? 'ip', args, { encoding: 'utf8' });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await ip('netns', 'list');
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** A process started inside a namespace, stoppable by its own PID (`ip netns exec` execs the command). */
export interface NsProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM, up to 3 s grace, then SIGKILL. */
async function stopPid(pid: number, exited?: Promise<unknown>): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const gone = exited ?? (async () => { while (alive(pid)) await sleep(50); })();
  const timer = sleep(3000).then(() => 'timeout');
  if ((await Promise.race([gone, timer])) === 'timeout' && alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited in between
    }
    await gone;
  }
}

export class Netns {
  private readonly processes = new Set<NsProcess>();

  constructor(readonly name: string) {}

  /** Runs a command to completion inside the namespace. */
  async exec(cmd: string, args: string[] = [], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    try {
      return await execFileP(findTool('ip') ?? 'ip', ['netns', 'exec', this.name, findTool(cmd) ?? cmd, ...args], {
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw Object.assign(new Error(`[netns ${this.name}] ${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`), {
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      });
    }
  }

  /** `ip -n <ns> …` */
  ip(...args: string[]): Promise<ExecResult> {
    return ip('-n', this.name, ...args);
  }

  /**
   * Starts a long-running process inside the namespace, stdout+stderr appended to `logFile` (or ignored).
   * It is stopped by PID when the namespace is torn down, if not before.
   */
  spawn(cmd: string, args: string[], opts: { logFile?: string; env?: NodeJS.ProcessEnv } = {}): NsProcess {
    const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
    const child = spawn(findTool('ip') ?? 'ip', ['netns', 'exec', this.name, findTool(cmd) ?? cmd, ...args], {
      stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
      env: opts.env ?? process.env,
    });
    if (fd !== undefined) closeSync(fd);
    if (child.pid === undefined) throw new Error(`[netns ${this.name}] could not start ${cmd}`);
    const pid = child.pid;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    const proc: NsProcess = {
      pid,
      child,
      exited,
      stop: async () => {
        await stopPid(pid, exited);
        this.processes.delete(proc);
      },
    };
    this.processes.add(proc);
    return proc;
  }

  /** Stops our processes, then anything else still inside this namespace (by PID), then deletes it. */
  async destroy(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.stop()));
    try {
      const { stdout } = await ip('netns', 'pids', this.name);
      const pids = stdout.split(/\s+/).filter(Boolean).map(Number);
      await Promise.all(pids.map((pid) => stopPid(pid)));
    } catch {
      // namespace already gone
    }
    if ((await listNetns()).includes(this.name)) await ip('netns', 'del', this.name);
  }
}

/** `<prefix>-<random>-<creator pid>`: the pid lets a later run recognise namespaces a dead run leaked. */
const OURS = /^[a-z0-9]+-[0-9a-f]{6}-(\d+)$/;

/**
 * Deletes namespaces made by this helper whose creating process is gone (a test killed by tap's timeout
 * never runs its teardowns), stopping what still runs inside them first.
 */
export async function sweepLeakedNetns(): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await listNetns()) {
    const m = OURS.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await new Netns(name).destroy().catch(() => undefined);
    swept.push(name);
  }
  return swept;
}

/** A fresh namespace `<prefix>-<random>-<pid>` with loopback up, deleted at teardown. */
export async function createNetns(t: Test, prefix: string): Promise<Netns> {
  await sweepLeakedNetns();
  const name = `${prefix}-${randomBytes(3).toString('hex')}-${process.pid}`;
  await ip('netns', 'add', name);
  const ns = new Netns(name);
  t.teardown(() => ns.destroy());
  await ns.ip('link', 'set', 'lo', 'up');
  return ns;
}

export interface VethEnd {
  ns: Netns;
  ifname: string;
  /** CIDR, e.g. 10.88.0.1/24; omitted = no address. */
  address?: string;
}

/**
 * A veth pair with each end inside a namespace. The pair is created inside `a.ns` and its peer moved to
 * `b.ns` in the same command, so it never exists in the root namespace.
 */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  await a.ns.ip('link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns.name);
  for (const end of [a, b]) {
    if (end.address) await end.ns.ip('addr', 'add', end.address, 'dev', end.ifname);
    await end.ns.ip('link', 'set', end.ifname, 'up');
  }
}

export interface BridgeTap {
  bridge: string;
  tap: string;
  address: string;
  ipv6?: string;
}

/**
 * A bridge (STP off, forward delay 0: PXE ROMs time out on a learning bridge) with an address and a
 * persistent TAP enslaved to it for QEMU. With `ipv6`, the bridge gets that ULA so an RA helper can run.
 */
export async function createBridgeWithTap(
  ns: Netns,
  opts: { bridge?: string; tap?: string; address: string; ipv6?: string },
): Promise<BridgeTap> {
  const bridge = opts.bridge ?? 'br0';
  const tap = opts.tap ?? 'tap0';
  await ns.ip('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  await ns.ip('addr', 'add', opts.address, 'dev', bridge);
  await ns.ip('link', 'set', bridge, 'up');
  await ns.ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
  await ns.ip('link', 'set', tap, 'master', bridge);
  await ns.ip('link', 'set', tap, 'up');
  if (opts.ipv6) {
    await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=0', `net.ipv6.conf.${bridge}.disable_ipv6=0`, `net.ipv6.conf.${bridge}.accept_ra=0`]);
    await ns.ip('addr', 'add', opts.ipv6, 'dev', bridge, 'nodad');
  }
  return { bridge, tap, address: opts.address, ipv6: opts.ipv6 };
}

/**
 * An RA-only dnsmasq on `bridge` (no DHCPv4/v6, DNS or TFTP), so iPXE's IPv6 autoconfiguration ends at once.
 * The bridge needs an IPv6 address (createBridgeWithTap `ipv6`).
 */
export function startRaHelper(t: Test, ns: Netns, bridge: string): NsProcess {
  const dir = tempDir(t, 'farrier-ra-');
  const conf = join(dir, 'ra.conf');
  writeFileSync(
    conf,
    [
      'port=0',
      `interface=${bridge}`,
      'bind-interfaces',
      'user=root',
      'group=root',
      'pid-file=',
      `dhcp-leasefile=${join(dir, 'leases')}`,
      'enable-ra',
      `dhcp-range=::,constructor:${bridge},ra-only,64,1h`,
      '',
    ].join('\n'),
  );
  return ns.spawn('dnsmasq', ['-k', `--conf-file=${conf}`], { logFile: join(dir, 'ra.log') });
}

/** Polls `check` every 100 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** True if something listens on `proto` port `port` inside the namespace. */
export async function listening(ns: Netns, proto: 'tcp' | 'udp', port: number): Promise<boolean> {
  const { stdout } = await ns.exec('ss', [proto === 'tcp' ? '-ltnH' : '-lunH']);
  return stdout.split('\n').some((l) => new RegExp(`:${port}\\s`).test(l));
}

/** One ICMP echo from inside `ns` (busybox ping when iputils is absent). */
export async function pingOnce(ns: Netns, address: string): Promise<boolean> {
  const args = ['-c', '1', '-W', '2', address];
  try {
    if (findTool('ping')) await ns.exec('ping', args);
    else await ns.exec('busybox', ['ping', ...args]);
    return true;
  } catch {
    return false;
  }
}
