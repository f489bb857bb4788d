/** Runs tftpServerChild.ts as a separate process and talks to it over IPC (robustness tests). */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { TftpCounters } from '../../src/tftp/server.js';

export interface ChildStats {
  counters: TftpCounters;
  rss: number;
  heapUsed: number;
  fds: number;
}

export interface TftpChild {
  port: number;
  pid: number;
  /** Counters, memory and descriptors; `gc` collects garbage first (for memory figures, slow). */
  stats(gc?: boolean): Promise<ChildStats>;
  /** Set once the process exited (code or signal), for the "never exits" assertions. */
  exit(): string | undefined;
  /** UDP ports of the child's transfer sockets (all its sockets but the listener), from /proc. */
  transferPorts(): number[];
}

export async function startTftpChild(t: Test, root: string, opts: { stallTimeoutMs: number; maxTransfers?: number; maxTransfersPerClient?: number; timeoutMs?: number; retries?: number }): Promise<TftpChild> {
  const script = fileURLToPath(new URL('./tftpServerChild.ts', import.meta.url));
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const child: ChildProcess = fork(script, [root, String(opts.stallTimeoutMs), String(opts.maxTransfers ?? 1000), String(opts.maxTransfersPerClient ?? 64), String(opts.timeoutMs ?? 300), String(opts.retries ?? 2)], {
    execArgv: [...loader, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exit code ${code} signal ${signal}`));
  t.teardown(async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', () => reject(new Error(`TFTP child exited before it was ready (${exited})`)));
  });
  let nextId = 0;
  const waiting = new Map<number, (s: ChildStats) => void>();
  child.on('message', (m: { id?: number } & ChildStats) => {
    if (m.id === undefined) return;
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const pid = child.pid as number;
  return {
    port,
    pid,
    exit: () => exited,
    stats: (gc = false) =>
      new Promise<ChildStats>((resolve, reject) => {
        if (exited) return reject(new Error(`TFTP child is gone: ${exited}`));
        const id = nextId++;
        waiting.set(id, resolve);
        child.send({ cmd: 'stats', id, gc });
      }),
    transferPorts: () => {
      const inodes = new Set<string>();
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m) inodes.add(m[1] as string);
        } catch {
          // the descriptor closed while we listed them
        }
      }
      const ports: number[] = [];
      for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 10 || !inodes.has(cols[9] as string)) continue;
        const p = parseInt((cols[1] as string).split(':')[1] as string, 16);
        if (p !== port) ports.push(p);
      }
      return ports;
    },
  };
}
