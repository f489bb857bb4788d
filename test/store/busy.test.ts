/**
 * Another process holding the database's write lock (a `sqlite3` shell in BEGIN EXCLUSIVE, a backup, a CLI
 * tool) delays the daemon's writes without freezing the process: reads and timers go on while a write waits,
 * the write commits once the lock is released, and it fails UNAVAILABLE with reason LOCKED only after
 * busyTimeoutMs.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { FarrierError } from '../../src/errors.js';
import { tempStore } from './fixtures/tempStore.js';

const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

/** A child process that takes an exclusive lock on `path` and holds it until told (a line on stdin). */
async function lockHolder(t: Test, path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const db = require(${JSON.stringify(betterSqlite)})(${JSON.stringify(path)});
    db.prepare('BEGIN EXCLUSIVE').run();
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.prepare('COMMIT').run(); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return {
    release: async () => {
      child.stdin.write('go\n');
      await exited;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('a write waiting for another process\'s lock does not block reads or timers, and commits after release', async (t) => {
  const { store, path } = await tempStore(t, { busyTimeoutMs: 60_000 });
  await store.put('profiles', 'before', { name: 'before' }, { mode: 'create' });
  const holder = await lockHolder(t, path);
  let settled = false;
  const write = store.put<{ name: string }>('profiles', 'waiting', { name: 'waiting' }, { mode: 'create' }).finally(() => (settled = true));
  // If the wait blocked the event loop, neither of these would run until the lock is released (never: the
  // holder waits for us), and the write would fail after 60 s.
  await sleep(100);
  t.ok(await store.get('profiles', 'before'), 'a read completes while the write waits');
  t.notOk(settled, 'the write is still waiting for the lock');
  await holder.release();
  const saved = await write;
  t.equal(saved.name, 'waiting', 'the write commits once the lock is released');
  t.ok(await store.get('profiles', 'waiting'), 'and is readable');
});

t.test('a lock held past busyTimeoutMs: UNAVAILABLE with reason LOCKED; writes work again after release', async (t) => {
  const { store, path } = await tempStore(t, { busyTimeoutMs: 200 });
  const holder = await lockHolder(t, path);
  const err = await store.put('profiles', 'blocked', { name: 'blocked' }, { mode: 'create' }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof FarrierError, 'a FarrierError');
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).detail, { reason: 'LOCKED', path });
  t.match((err as FarrierError).message, /another process held the write lock too long/);
  await holder.release();
  t.ok(await store.put('profiles', 'blocked', { name: 'blocked' }, { mode: 'create' }), 'the next write succeeds');
});
