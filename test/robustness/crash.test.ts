/**
 * Crash durability under load: the real `farrier serve` in a namespace, Kea's perfdhcp driving DORA at full
 * rate from a peer namespace, codec DHCP clients that record every ACK they get, and API writers that record
 * every 2xx — then `kill -9` mid-run, restart on the same database, and check, three rounds over:
 * every ACKed lease is stored and bound to the MAC that was told it has it, every acknowledged object and
 * param is there, no address was ACKed to two MACs, no MAC holds two live leases, integrity_check = ok.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { requireNetns, requireTool } from '../helpers/env.js';
import { waitFor, type NsProcess } from '../e2e/lib/netns.js';
import { createLab, labSubnet, readRecords, SERVER_IP, startDriver } from './crashLab.js';

const ROUNDS = 3;

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

t.test('kill -9 under full-rate DORA and API writes loses no ACKed lease and no acknowledged write', async (t) => {
  if (!requireNetns(t) || !requireTool(t, 'perfdhcp') || !requireTool(t, 'curl')) return;
  const lab = await createLab(t, 'fcrash');
  const dbPath = join(lab.dataDir, 'farrier.db');
  let daemon: NsProcess = await lab.start(['--log-level', 'warn']);
  const subnet = await lab.api('POST', '/subnets', labSubnet);
  t.equal(subnet.status, 201, 'subnet created');

  const records: Array<Record<string, string>> = [];
  const totals = { perfdhcpRounds: 0, kills: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    // Full rate: more than the daemon can answer on this machine, so its socket queue is never empty.
    const perf = lab.cli.spawn('perfdhcp', ['-4', '-l', 'vcli', '-r', '3000', '-R', '20000', '-p', '30', SERVER_IP], { logFile: join(lab.dir, `perfdhcp-${round}.out`) });
    const recordFile = join(lab.dir, `records-${round}.jsonl`);
    const driver = await startDriver(
      lab,
      { tag: `c${round}`, records: recordFile, tolerateFailures: true, dora: { clients: 12, timeoutMs: 1000, tries: 3 }, api: { writers: 4, mode: 'grow' } },
      join(lab.dir, `driver-${round}.out`),
    );
    // Kill once writes and leases are flowing (at least this many are recorded), mid-stream.
    await waitFor(() => {
      const r = readRecords(recordFile);
      return r.filter((x) => x.t === 'ack').length >= 150 && r.filter((x) => x.t !== 'ack').length >= 40;
    }, 60_000, `round ${round}: leases and writes under way`);
    process.kill(daemon.pid, 'SIGKILL');
    t.equal(await daemon.exited, null, `round ${round}: daemon killed with SIGKILL mid-run`);
    totals.kills++;
    const summary = await driver.stop();
    await perf.stop();
    totals.perfdhcpRounds++;
    const round_ = readRecords(recordFile);
    records.push(...round_);
    t.comment(`round ${round}: driver ${JSON.stringify(summary.tallies)}; recorded ${round_.filter((r) => r.t === 'ack').length} ACKs, ${round_.filter((r) => r.t !== 'ack').length} acknowledged writes`);

    daemon = await lab.start(['--log-level', 'warn']);
    const check = checkDatabase(dbPath, records);
    t.same(check.leasesLost, [], `round ${round}: all ${check.leasesAcked} ACKed leases so far are stored, bound to their MAC`);
    t.same(check.objectsLost, [], `round ${round}: all ${check.objectsAcked} acknowledged writes so far are stored`);
    t.equal(check.doubleLive, 0, `round ${round}: no MAC holds two live leases`);
    t.equal(check.integrity, 'ok', `round ${round}: integrity_check ok after the restart`);
  }

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
    `crash figures: ${totals.kills} kill -9 under perfdhcp -r 3000; leases ACKed to recording clients ${final.leasesAcked}, lost ${final.leasesLost.length}; ` +
      `writes acknowledged (machines + params) ${final.objectsAcked}, lost ${final.objectsLost.length}; lease rows in the database ${leaseCount} (perfdhcp's included)`,
  );
});
