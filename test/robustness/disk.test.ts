/**
 * Storage faults against the real `farrier serve` in a namespace, its data directory on a small tmpfs:
 * the disk fills up, another process holds the database lock (`sqlite3` in BEGIN EXCLUSIVE), the data
 * directory is read-only. In each case API writes fail 503 with `detail.reason` naming the cause, DHCP drops
 * requests (counter + log line) instead of answering with a lease it could not store, reads and boot files
 * (HTTP and TFTP) keep being served, the daemon recovers once the cause is gone, and integrity_check = ok.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { findTool, requireNetns, requireTool } from '../helpers/env.js';
import { waitFor } from '../e2e/lib/netns.js';
import { createLab, labSubnet, SERVER_IP, HTTP_PORT, type Lab } from './crashLab.js';

t.setTimeout(420_000);

const BOOT_FILE = 'disk/loader.txt';
const bootContent = Array.from({ length: 2000 }, (_, i) => `line ${i} ${Math.random().toString(36).slice(2)}`).join('\n');

/** A tmpfs of `size` mounted for this test, unmounted (lazily, the daemon may still hold it) at teardown. */
function smallDisk(t: Test, size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'farrier-disk-'));
  execFileSync(findTool('mount') ?? 'mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync(findTool('umount') ?? 'umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes `path` until the filesystem has no space left (ENOSPC). */
function fill(path: string): void {
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // Smaller than a chunk: whatever is left.
  const fd2 = openSync(path, 'a');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(512, 0x5a));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd2);
  }
}

/** perfdhcp: a few DORA exchanges from the client namespace; how many ACKs came back. */
async function dhcpAcks(lab: Lab, exchanges = 10): Promise<number> {
  const args = ['-4', '-l', 'vcli', '-r', '10', '-n', String(exchanges), '-R', String(exchanges), '-p', '4', '-W', '3000000', SERVER_IP];
  const { stdout } = await lab.cli.exec('perfdhcp', args, { timeoutMs: 60_000 }).catch((err: Error & { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const at = stdout.lastIndexOf('***Statistics for: REQUEST-ACK');
  const m = at < 0 ? null : /received packets:\s*(\d+)/.exec(stdout.slice(at));
  return m ? Number(m[1]) : 0;
}

/** farrier_dhcp_dropped_total{reason="store_unavailable"}: requests dropped because the store refused the lease write. */
async function droppedStoreUnavailable(lab: Lab): Promise<number> {
  const { text } = await lab.fetch(`http://${SERVER_IP}:${HTTP_PORT}/metrics`);
  const m = /^farrier_dhcp_dropped_total\{reason="store_unavailable"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** What keeps working whatever happens to the database: boot files over HTTP and TFTP, and API reads. */
async function servesWhatItCan(t: Test, lab: Lab, when: string, machines: number): Promise<void> {
  const http = await lab.fetch(`http://${SERVER_IP}:${HTTP_PORT}/${BOOT_FILE}`);
  t.ok(http.status === 200 && http.text === bootContent, `${when}: boot file served over HTTP`);
  const tftp = await lab.fetch(`tftp://${SERVER_IP}/${BOOT_FILE}`);
  t.ok(tftp.text === bootContent, `${when}: boot file served over TFTP`);
  const list = await lab.api('GET', '/machines?limit=1000');
  t.equal(list.status, 200, `${when}: API reads answer`);
  t.equal((list.body as unknown[]).length, machines, `${when}: every stored machine is listed`);
}

function integrity(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

interface Envelope {
  code?: string;
  message?: string;
  detail?: { reason?: string };
}

t.test('disk full, database locked, read-only data directory: clear errors, keeps serving, recovers, no corruption', async (t) => {
  if (!requireNetns(t) || !requireTool(t, 'perfdhcp') || !requireTool(t, 'curl') || !requireTool(t, 'sqlite3') || !requireTool(t, 'mount')) return;
  const dataDir = smallDisk(t, '8m');
  const lab = await createLab(t, 'fdisk', { dataDir });
  const dbPath = join(dataDir, 'farrier.db');
  mkdirSync(join(dataDir, 'files', 'disk'), { recursive: true });
  writeFileSync(join(dataDir, 'files', BOOT_FILE), bootContent);
  let daemon = await lab.start(['--log-level', 'warn']);
  t.equal((await lab.api('POST', '/subnets', labSubnet)).status, 201, 'subnet created');
  t.ok((await dhcpAcks(lab)) > 0, 'DHCP hands out leases before any fault');
  let machines = 0;
  const create = async (name: string) => {
    const r = await lab.api('POST', '/machines', { name, macs: [`52:54:00:d1:${(machines >> 8).toString(16).padStart(2, '0')}:${(machines & 0xff).toString(16).padStart(2, '0')}`] });
    if (r.status === 201) machines++;
    return r;
  };
  t.equal((await create('before')).status, 201, 'a machine is created');
  const uuid = ((await lab.api('GET', '/machines/name:before')).body as { uuid: string }).uuid;

  await t.test('disk full', async (t) => {
    const filler = join(dataDir, 'filler');
    fill(filler);
    // Writes that still fit in pages SQLite already holds may succeed (and are then stored); big ones soon
    // need new pages and fail.
    let rejected: { status: number; body: unknown } | undefined;
    const accepted: string[] = [];
    for (let i = 0; i < 200 && !rejected; i++) {
      const r = await lab.api('PUT', `/machines/${uuid}/params/blob${i}`, 'x'.repeat(64 * 1024));
      if (r.status === 200) accepted.push(`blob${i}`);
      else rejected = r;
    }
    t.ok(rejected, `a write fails once the disk is full (${accepted.length} still fitted before)`);
    const env = rejected?.body as Envelope;
    t.equal(rejected?.status, 503, 'the API answers 503');
    t.equal(env.code, 'UNAVAILABLE', 'error code UNAVAILABLE');
    t.equal(env.detail?.reason, 'DISK_FULL', 'detail.reason names the cause: DISK_FULL');
    t.match(env.message, /disk holding it is full: free space, then retry/, 'the message says what to do');
    fill(join(dataDir, 'filler2'));
    const createFull = await create('while-full');
    t.equal(createFull.status, 503, 'creating a machine fails 503 too');
    t.equal((await lab.api('GET', '/machines/name:while-full')).status, 404, 'the rejected machine does not exist');

    const droppedBefore = await droppedStoreUnavailable(lab);
    t.equal(await dhcpAcks(lab), 0, 'DHCP gives no lease it cannot store');
    t.ok((await droppedStoreUnavailable(lab)) > droppedBefore, 'the drops are counted (farrier_dhcp_dropped_total{reason="store_unavailable"})');
    t.match(lab.log(), /"reason":"DISK_FULL".*"msg":"dhcp: request dropped, the store is unavailable"/, 'and logged with the cause');
    await servesWhatItCan(t, lab, 'disk full', machines);

    unlinkSync(filler);
    unlinkSync(join(dataDir, 'filler2'));
    t.equal((await create('after-full')).status, 201, 'writes succeed again once space is freed');
    t.ok((await dhcpAcks(lab)) > 0, 'DHCP hands out leases again');
    const params = (await lab.api('GET', `/machines/${uuid}/params`)).body as Record<string, unknown>;
    t.same(accepted.filter((k) => params[k] === undefined), [], 'every write acknowledged while the disk filled up is stored');
    t.equal(integrity(dbPath), 'ok', 'integrity_check ok');
  });

  await t.test('database locked by another process', async (t) => {
    const sqlite: ChildProcessWithoutNullStreams = spawn(findTool('sqlite3') ?? 'sqlite3', [dbPath]);
    t.teardown(() => {
      if (sqlite.exitCode === null) sqlite.kill('SIGKILL');
    });
    let out = '';
    sqlite.stdout.on('data', (d: Buffer) => (out += d.toString()));
    sqlite.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n");
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => out.includes('locked') && (clearInterval(timer), resolve()), 50);
      sqlite.once('exit', (code) => (clearInterval(timer), reject(new Error(`sqlite3 exited ${code}`))));
    });
    const write = lab.api('POST', '/machines', { name: 'while-locked', macs: ['52:54:00:d2:00:01'] });
    await servesWhatItCan(t, lab, 'database locked', machines);
    const droppedBefore = await droppedStoreUnavailable(lab);
    t.equal(await dhcpAcks(lab, 3), 0, 'DHCP gives no lease it cannot store');
    // A request waits for the lock as long as an API write does before it is dropped.
    const counted = await waitFor(async () => (await droppedStoreUnavailable(lab)) > droppedBefore, 60_000, 'the DHCP drop counter').then(() => true, () => false);
    t.ok(counted, 'the drops are counted');
    t.match(lab.log(), /"reason":"LOCKED".*"msg":"dhcp: request dropped, the store is unavailable"/, 'and logged with the cause');
    const r = await write;
    t.equal(r.status, 503, 'a write waiting past the busy timeout fails 503');
    t.equal((r.body as Envelope).detail?.reason, 'LOCKED', 'detail.reason names the cause: LOCKED');
    t.match((r.body as Envelope).message, /another process held the write lock too long/);
    sqlite.stdin.write('COMMIT;\n.quit\n');
    await new Promise((resolve) => sqlite.once('exit', resolve));
    t.equal((await create('after-lock')).status, 201, 'writes succeed once the lock is released');
    t.equal(integrity(dbPath), 'ok', 'integrity_check ok');
  });

  await t.test('read-only data directory', async (t) => {
    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0, 'stopped cleanly');
    execFileSync(findTool('mount') ?? 'mount', ['-o', 'remount,ro', dataDir]);
    daemon = await lab.start(['--log-level', 'warn'], {}, { dhcp: false });
    t.match(lab.log(), /data directory \S+ is read-only: serving reads and boot files/, 'the daemon starts and says it is read-only');
    // DHCP cannot take its lock file, and could not store a lease anyway: it stays down, saying why.
    t.match(lab.log(), /"service":"dhcp".*"msg":"DHCP: cannot start: the data directory is read-only/, 'DHCP reports that it cannot run on a read-only data directory');
    const r = await lab.api('POST', '/machines', { name: 'while-ro', macs: ['52:54:00:d3:00:01'] });
    t.equal(r.status, 503, 'a write fails 503');
    t.equal((r.body as Envelope).detail?.reason, 'READ_ONLY', 'detail.reason names the cause: READ_ONLY');
    await servesWhatItCan(t, lab, 'read-only', machines);
    t.equal(await dhcpAcks(lab, 3), 0, 'no DHCP lease is handed out');
    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0, 'a read-only daemon stops cleanly');
    execFileSync(findTool('mount') ?? 'mount', ['-o', 'remount,rw', dataDir]);
    daemon = await lab.start(['--log-level', 'warn']);
    t.equal((await create('after-ro')).status, 201, 'writable again after a restart');
    t.ok((await dhcpAcks(lab)) > 0, 'DHCP hands out leases again');
    daemon.child.kill('SIGTERM');
    t.equal(await daemon.exited, 0, 'stopped cleanly');
    t.equal(integrity(dbPath), 'ok', 'integrity_check ok at the end');
  });
});
