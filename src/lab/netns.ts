/**
 * The lab's private network: one namespace holding a bridge (with the lab server's address) and a TAP for
 * the VM. Everything is created inside the namespace, so no interface of the host is ever touched;
 * deleting the namespace removes them all.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FarrierError } from '../errors.js';

const run = promisify(execFile);

export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { encoding: 'utf8' })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new FarrierError('UNAVAILABLE', `ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await ip('netns', 'list')).split('\n').some((l) => l.split(' ')[0] === name);
}

export interface LabNetwork {
  ns: string;
  bridge: string;
  tap: string;
  /** CIDR of the bridge address, e.g. 10.77.0.1/24. */
  address: string;
}

/** Namespace with loopback up, a bridge that forwards at once (PXE ROMs time out on a learning bridge), a TAP. */
export async function createLabNetwork(net: LabNetwork): Promise<void> {
  await ip('netns', 'add', net.ns);
  try {
    const n = (...args: string[]): Promise<string> => ip('-n', net.ns, ...args);
    await n('link', 'set', 'lo', 'up');
    await n('link', 'add', net.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    await n('addr', 'add', net.address, 'dev', net.bridge);
    await n('link', 'set', net.bridge, 'up');
    await n('tuntap', 'add', 'dev', net.tap, 'mode', 'tap');
    await n('link', 'set', net.tap, 'master', net.bridge);
    await n('link', 'set', net.tap, 'up');
    // A bridge has carrier only while a port has; a TAP without its VM has none, and Farrier reads the
    // interfaces it serves once at start (up and running ones). A veth pair kept inside the lab gives carrier.
    await n('link', 'add', 'carrier0', 'type', 'veth', 'peer', 'name', 'carrier1');
    await n('link', 'set', 'carrier0', 'master', net.bridge);
    await n('link', 'set', 'carrier0', 'up');
    await n('link', 'set', 'carrier1', 'up');
  } catch (err) {
    await ip('netns', 'del', net.ns).catch(() => undefined);
    throw err;
  }
}

/** Runs a command inside the namespace to completion. */
export async function nsExec(ns: string, cmd: string, args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: 30_000 })).stdout;
}

/** PIDs of processes still inside the namespace. */
export async function netnsPids(ns: string): Promise<number[]> {
  return (await ip('netns', 'pids', ns)).split(/\s+/).filter(Boolean).map(Number);
}
