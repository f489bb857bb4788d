/**
 * Crash durability under load: the real `farrier serve` in a namespace, Kea's perfdhcp driving DORA at full
 * rate from a peer namespace, codec DHCP clients that record every ACK they get, and API writers that record
 * every 2xx — then `kill -9` mid-run, restart on the same database, and check, three rounds over:
 * every ACKed lease is stored and bound to the MAC that was told it has it, every acknowledged object and
 * param is there, no address was ACKed to two MACs, no MAC holds two live leases, integrity_check = ok.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { requireNetns, requireTool } from '../helpers/env.js';
import { waitFor, type NsProcess } from '../e2e/lib/netns.js';
import { createLab, labSubnet, readRecords, SERVER_IP, startDriver } from './crashLab.js';

const ROUNDS = 3;
/**
 * perfdhcp's offered rate: at or above what the daemon answers on a busy 2-core machine, so it runs at
 * capacity. Far above it, the daemon's socket queue (2 MiB) holds many seconds of perfdhcp's packets and the
 * recording clients' exchanges time out before their turn: the test would then check almost nothing. Those
 * clients wait like real ones (4 tries of 4 s per step).
 */
const PERF_RATE = '600';

interface Check {
  leasesAcked: number;
  leasesLost: string[];
  objectsAcked: number;
  objectsLost: string[];
  doubleLive: number;
  integrity: string;
}

/** Reads the daemon's database beside it (WAL: a reader never blocks or disturbs the daemon). */
function checkDatabase(dbPath: string, records: Array<Record<string, string>>): Check {
  const db = new Database(dbPath, { readonly: true });
  try {
    const lease = db.prepare('SELECT mac, state FROM leases WHERE address = ?');
    const machine = db.prepare("SELECT body FROM objects WHERE kind = 'machines' AND key = ?");
    const out: Check = { leasesAcked: 0, leasesLost: [], objectsAcked: 0, objectsLost: [], doubleLive: 0, integrity: '' };
    for (const r of records) {
      if (r.t === 'ack') {
        out.leasesAcked++;
        const row = lease.get(r.ip) as { mac: string; state: string } | undefined;
        if (row?.mac !== r.mac || row.state !== 'bound') out.leasesLost.push(`${r.ip} ACKed to ${r.mac}, stored ${JSON.stringify(row)}`);
      } else if (r.t === 'obj' || r.t === 'param') {
        out.objectsAcked++;
        const row = machine.get(r.uuid) as { body: string } | undefined;
        const body = row && (JSON.parse(row.body) as { name: string; macs: string[]; params: Record<string, unknown> });
        const ok = r.t === 'obj' ? body?.name === r.name && body.macs.includes(r.mac!) : body?.params[r.name!] === r.value;
        if (!ok) out.objectsLost.push(`${r.t} ${r.uuid} ${r.name ?? ''}: stored ${row?.body ?? 'nothing'}`);
      }
    }
    out.doubleLive = (db.prepare("SELECT mac FROM leases WHERE state IN ('offered', 'bound') GROUP BY mac HAVING COUNT(*) > 1").all() as unknown[]).length;
    const problems = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).filter((m) => m !== 'ok');
    if ((db.pragma('foreign_key_check') as unknown[]).length > 0) problems.push('foreign key violations');
    out.integrity = problems.length === 0 ? 'ok' : problems.join('; ');
    return out;
  } finally {
    db.close();
  }
}

// Three daemon starts from src/ take ~15 s each on a loaded machine (from dist/ in CI, much less).
t.setTimeout(300_000);

t.test('kill -9 under full-rate DORA and API writes loses no ACKed lease and no acknowledged write', async (t) => {
  if (!requireNetns(t) || !requireTool(t, 'perfdhcp') || !requireTool(t, 'curl')) return;
  const lab = await createLab(t, 'fcrash');
  const dbPath = join(lab.dataDir, 'farrier.db');
  let daemon: NsProcess = await lab.start(['--log-level', 'warn']);
  const subnet = await lab.api('POST', '/subnets', labSubnet);
  t.equal(subnet.status, 201, 'subnet created');

  // One perfdhcp at full rate and one driver run through every kill and restart, as real clients would.
  const perf = lab.cli.spawn('perfdhcp', ['-4', '-l', 'vcli', '-r', PERF_RATE, '-R', '20000', '-p', '600', SERVER_IP], { logFile: join(lab.dir, 'perfdhcp.out') });
  const recordFile = join(lab.dir, 'records.jsonl');
  const driver = await startDriver(
    lab,
    { tag: 'c0', records: recordFile, tolerateFailures: true, dora: { clients: 16, timeoutMs: 4000, tries: 4 }, api: { writers: 4, mode: 'grow' } },
    join(lab.dir, 'driver.out'),
  );
  let records: Array<Record<string, string>> = [];
  const count = (rs: typeof records) => ({ acks: rs.filter((r) => r.t === 'ack').length, writes: rs.filter((r) => r.t !== 'ack').length });
  for (let round = 0; round < ROUNDS; round++) {
    const before = count(readRecords(recordFile));
    // Kill once new leases and writes are flowing since the last restart, mid-stream.
    await waitFor(() => {
      const now = count(readRecords(recordFile));
      return now.acks - before.acks >= 10 && now.writes - before.writes >= 20;
    }, 90_000, `round ${round}: leases and writes under way`).catch((err: Error) => {
      throw new Error(`${err.message}\ndriver:\n${driver.output().slice(-2000)}\ndaemon log:\n${lab.log().slice(-2000)}`);
    });
    process.kill(daemon.pid, 'SIGKILL');
    t.equal(await daemon.exited, null, `round ${round}: daemon killed with SIGKILL mid-run`);
    const restartAt = Date.now();
    daemon = await lab.start(['--log-level', 'warn']);
    // Records are written only after the client got its ACK or 2xx, so each one read here was committed.
    records = readRecords(recordFile);
    const check = checkDatabase(dbPath, records);
    const c = count(records);
    t.comment(`round ${round}: ${c.acks - before.acks} ACKs and ${c.writes - before.writes} acknowledged writes recorded since the last restart; restarted in ${((Date.now() - restartAt) / 1000).toFixed(1)} s`);
    t.same(check.leasesLost, [], `round ${round}: all ${check.leasesAcked} ACKed leases so far are stored, bound to their MAC`);
    t.same(check.objectsLost, [], `round ${round}: all ${check.objectsAcked} acknowledged writes so far are stored`);
    t.equal(check.doubleLive, 0, `round ${round}: no MAC holds two live leases`);
    t.equal(check.integrity, 'ok', `round ${round}: integrity_check ok after the restart`);
  }
  const summary = await driver.stop();
  // perfdhcp prints its statistics on SIGINT.
  perf.child.kill('SIGINT');
  await Promise.race([perf.exited, new Promise((r) => setTimeout(r, 5000))]);
  await perf.stop();
  records = readRecords(recordFile);
  t.comment(`driver: ${JSON.stringify(summary.tallies)} (failures are exchanges and requests cut by the kills)`);
  const perfOut = readFileSync(join(lab.dir, 'perfdhcp.out'), 'utf8');
  const perfSent = /sent packets:\s*(\d+)/.exec(perfOut)?.[1] ?? '?';

  const byIp = new Map<string, Set<string>>();
  for (const r of records) if (r.t === 'ack') byIp.set(r.ip!, (byIp.get(r.ip!) ?? new Set()).add(r.mac!));
  const shared = [...byIp].filter(([, macs]) => macs.size > 1).map(([ip, macs]) => `${ip}: ${[...macs].join(', ')}`);
  t.same(shared, [], 'no address was ACKed to two MACs');

  // The restarted daemon still serves DHCP and the API.
  const after = await lab.api('GET', '/machines?limit=0');
  t.equal(after.status, 200, 'API answers after the last restart');
  const leaseCount = (() => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n;
    } finally {
      db.close();
    }
  })();
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'the last daemon stops cleanly on SIGTERM');
  const final = checkDatabase(dbPath, records);
  t.equal(final.integrity, 'ok', 'integrity_check ok on the closed database');
  t.equal(final.leasesLost.length + final.objectsLost.length, 0, 'nothing lost at the end');
  t.comment(
    `crash figures: ${ROUNDS} kill -9 under perfdhcp -r ${PERF_RATE} (${perfSent} DISCOVERs sent); leases ACKed to recording clients ${final.leasesAcked}, lost ${final.leasesLost.length}; ` +
      `writes acknowledged (machines + params) ${final.objectsAcked}, lost ${final.objectsLost.length}; lease rows in the database ${leaseCount} (perfdhcp's included)`,
  );
});
