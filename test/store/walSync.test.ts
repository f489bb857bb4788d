import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { WalSync } from '../../src/store/sqlite/walSync.js';
import { requireTool } from '../helpers/env.js';

/** One line of `strace -f -y` output, reduced to what the check needs. */
interface Call {
  pid: string;
  name: string;
  /** The -wal file is the call's first argument. */
  wal: boolean;
  /** The call has returned (a plain line or a "resumed" one). */
  done: boolean;
  ack?: string;
}

function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\((.*))/.exec(line);
    if (!m) continue;
    const name = m[2] ?? m[3];
    const args = m[4] ?? '';
    const resumed = m[2] !== undefined;
    const ack = /^1<[^>]*>, "(acked \w+|ready)\\n"/.exec(args)?.[1];
    calls.push({ pid: m[1], name, wal: /^\d+<[^>]*-wal>/.test(args), done: resumed || !line.includes('<unfinished ...>'), ack });
  }
  // a resumed line names no file: it belongs to the unfinished call of the same pid just before it
  const open = new Map<string, Call>();
  for (const c of calls) {
    if (!c.done) open.set(c.pid, c);
    else if (!c.ack && !c.wal && open.get(c.pid)?.name === c.name) {
      c.wal = open.get(c.pid)!.wal;
      open.delete(c.pid);
    }
  }
  return calls;
}

/**
 * Runs the ack writer under strace and returns the calls from its 'ready' (the store is open) to its last
 * acknowledgement, leaving out opening (journal mode, migrations) and closing (checkpoint), and the main
 * thread's pid.
 */
function traced(t: Test, durability: 'power' | 'process', count: number): { calls: Call[]; main: string } {
  const dir = t.testdir();
  const traceFile = join(dir, 'trace');
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const script = fileURLToPath(new URL('./fixtures/ackWriter.ts', import.meta.url));
  const r = spawnSync('strace', ['-f', '-y', '-qq', '-s', '64', '-o', traceFile, '-e', 'trace=pwrite64,write,fdatasync,fsync',
    process.execPath, ...(loader.length > 0 ? loader : process.execArgv), script, join(dir, 'farrier.db'), durability, String(count)], { encoding: 'utf8' });
  t.equal(r.status, 0, `the writer ran under strace: ${r.stderr}`);
  const all = parseTrace(readFileSync(traceFile, 'utf8'));
  const ready = all.findIndex((c) => c.ack === 'ready');
  let last = all.length - 1;
  while (last > ready && !all[last].ack) last--;
  const calls = all.slice(ready + 1, last + 1);
  return { calls, main: all[ready]?.pid ?? '' };
}

t.test("durability 'power': each write is acknowledged only after its WAL frames were synced, off the event loop", async (t) => {
  if (!requireTool(t, 'strace')) return;
  const { calls, main } = traced(t, 'power', 40);
  const acks = calls.filter((c) => c.ack);
  t.equal(acks.length, 40, 'all 40 writes acknowledged');
  let walWritten = false;
  let synced = false;
  const unsynced: string[] = [];
  for (const c of calls) {
    if (c.name === 'pwrite64' && c.wal) [walWritten, synced] = [true, false];
    else if ((c.name === 'fdatasync' || c.name === 'fsync') && c.wal && c.done && walWritten) synced = true;
    else if (c.ack) {
      if (!walWritten || !synced) unsynced.push(c.ack);
      walWritten = false;
    }
  }
  t.same(unsynced, [], 'between every commit and its acknowledgement the -wal file was synced');
  const walSyncs = calls.filter((c) => (c.name === 'fdatasync' || c.name === 'fsync') && c.wal && c.done);
  t.ok(walSyncs.length >= 40, `${walSyncs.length} syncs of the WAL for 40 sequential writes`);
  t.same(walSyncs.filter((c) => c.pid === main).length, 0, 'no WAL sync ran on the JavaScript thread');
});

t.test("durability 'process': writes are acknowledged without syncing the WAL", async (t) => {
  if (!requireTool(t, 'strace')) return;
  const { calls } = traced(t, 'process', 40);
  t.equal(calls.filter((c) => c.ack).length, 40, 'all 40 writes acknowledged');
  t.equal(calls.filter((c) => (c.name === 'fdatasync' || c.name === 'fsync') && c.wal).length, 0, 'no WAL sync while writing');
});

t.test('syncs requested while one runs share the next one', async (t) => {
  const path = join(t.testdir(), 'wal');
  writeFileSync(path, 'frames');
  const wal = new WalSync(path);
  await Promise.all(Array.from({ length: 100 }, () => wal.sync()));
  t.equal(wal.syncs, 2, '100 requests in one turn: one sync started at once, one shared by the other 99');
  await wal.sync();
  t.equal(wal.syncs, 3, 'a request after they settled starts its own');
  await wal.close();
});
