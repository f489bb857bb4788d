/**
 * Soak report: reads the RSS/fd samples and the driver's summary written by bench/soak/run.sh, checks the
 * database, and prints a readable report plus one `SOAK_RESULT {json}` line for test/robustness/soak.test.ts.
 * Growth is judged on the second half of the run (the first half includes warm-up: JIT, caches, pools), as a
 * least-squares slope per minute.
 * usage: report.ts <samples.tsv> <driver.out> <farrier.db> <daemon exit code> <duration s>
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';

const [samplesFile, driverOut, dbPath, daemonExit, duration] = process.argv.slice(2) as [string, string, string, string, string];

interface Sample {
  s: number;
  rssKb: number;
  fds: number;
}
const samples: Sample[] = readFileSync(samplesFile, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t').map(Number))
  .filter((v) => v.length === 3 && v.every(Number.isFinite))
  .map(([s, rssKb, fds]) => ({ s: s!, rssKb: rssKb!, fds: fds! }));

/** Least-squares slope of `y` over time, per minute. */
function slopePerMin(points: Sample[], y: (p: Sample) => number): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.s, 0) / n;
  const my = points.reduce((a, p) => a + y(p), 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.s - mx) * (y(p) - my);
    den += (p.s - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

const mb = (kb: number): number => Math.round((kb / 1024) * 10) / 10;
const half = samples.filter((p) => p.s >= (samples.at(-1)?.s ?? 0) / 2);
const first = samples[0];
const last = samples.at(-1);
const summaryLine = readFileSync(driverOut, 'utf8').split('\n').find((l) => l.startsWith('SUMMARY '));
const driver = summaryLine
  ? (JSON.parse(summaryLine.slice('SUMMARY '.length)) as { tallies: Record<string, { ok: number; fail: number }>; errors: number; firstErrors: string[] })
  : undefined;

let integrity = 'not checked';
try {
  const db = new Database(dbPath, { readonly: true });
  integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  db.close();
} catch (err) {
  integrity = `cannot open: ${(err as Error).message}`;
}

const result = {
  durationSec: Number(duration),
  samples: samples.length,
  rssMb: {
    start: first ? mb(first.rssKb) : null,
    end: last ? mb(last.rssKb) : null,
    max: samples.length ? mb(Math.max(...samples.map((p) => p.rssKb))) : null,
    secondHalfSlopePerMin: Math.round((slopePerMin(half, (p) => p.rssKb) / 1024) * 100) / 100,
  },
  fds: {
    start: first?.fds ?? null,
    end: last?.fds ?? null,
    max: samples.length ? Math.max(...samples.map((p) => p.fds)) : null,
    secondHalfMax: half.length ? Math.max(...half.map((p) => p.fds)) : null,
    firstHalfMax: Math.max(0, ...samples.filter((p) => !half.includes(p)).map((p) => p.fds)),
    secondHalfSlopePerMin: Math.round(slopePerMin(half, (p) => p.fds) * 100) / 100,
  },
  traffic: driver?.tallies ?? {},
  errors: driver ? driver.errors : -1,
  firstErrors: driver?.firstErrors ?? ['the driver printed no summary'],
  daemonExit: daemonExit === 'died' ? null : Number(daemonExit),
  integrity,
};

const t = result.traffic;
const n = (k: string): string => `${t[k]?.ok ?? 0} ok / ${t[k]?.fail ?? 0} failed`;
console.log(`
soak: ${result.durationSec} s, ${result.samples} samples
  RSS MB   start ${result.rssMb.start}  end ${result.rssMb.end}  max ${result.rssMb.max}  second-half slope ${result.rssMb.secondHalfSlopePerMin} MB/min
  open fds start ${result.fds.start}  end ${result.fds.end}  max ${result.fds.max}  second-half slope ${result.fds.secondHalfSlopePerMin}/min
  DORA ${n('dora')}; API requests ${n('api')}; TFTP downloads ${n('tftp')}; HTTP downloads ${n('http')}
  errors ${result.errors}; daemon exit on SIGTERM ${result.daemonExit}; integrity_check ${result.integrity}`);
for (const e of result.firstErrors) console.log(`  error: ${e}`);
console.log(`SOAK_RESULT ${JSON.stringify(result)}`);
