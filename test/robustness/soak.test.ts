/**
 * The soak run (bench/soak/run.sh) for 2 minutes: DORA, TFTP and HTTP boot-file downloads and API writes
 * against the real daemon in a namespace. Asserts no errors, a clean stop, an intact database, and that RSS
 * and open fds do not keep growing: the second half's growth (after warm-up) stays under generous bounds.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { requireNetns, requireTool } from '../helpers/env.js';
import { sweepLeakedNetns } from '../e2e/lib/netns.js';

const script = fileURLToPath(new URL('../../bench/soak/run.sh', import.meta.url));
const DURATION = 120;

interface SoakResult {
  samples: number;
  rssMb: { start: number; end: number; max: number; secondHalfSlopePerMin: number };
  fds: { start: number; end: number; max: number; firstHalfMax: number; secondHalfMax: number; secondHalfSlopePerMin: number };
  traffic: Record<string, { ok: number; fail: number }>;
  errors: number;
  firstErrors: string[];
  daemonExit: number | null;
  integrity: string;
}

t.setTimeout(DURATION * 1000 + 180_000);

t.test(`soak: ${DURATION} s of mixed boot traffic and API writes`, async (t) => {
  if (!requireNetns(t) || !requireTool(t, 'curl')) return;
  await sweepLeakedNetns();
  let out = '';
  const proc = spawn('bash', [script], { env: { ...process.env, DURATION: String(DURATION), SAMPLE: '3', RECORD: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    // The script's EXIT trap removes its namespaces; SIGTERM lets it run.
    if (proc.exitCode === null) proc.kill('SIGTERM');
  });
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
  t.equal(code, 0, 'bench/soak/run.sh exits 0');
  const line = out.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
  if (!line) {
    t.fail(`no SOAK_RESULT line:\n${out.slice(-4000)}`);
    return;
  }
  const r = JSON.parse(line.slice('SOAK_RESULT '.length)) as SoakResult;
  t.comment(out.split('\n').filter((l) => /^\s*(soak:|RSS|open fds|DORA|errors|error:)/.test(l)).join('\n'));

  t.equal(r.errors, 0, `no failed exchange, request or download (${JSON.stringify(r.firstErrors)})`);
  for (const kind of ['dora', 'api', 'tftp', 'http']) t.ok((r.traffic[kind]?.ok ?? 0) > 0, `${kind} traffic ran (${r.traffic[kind]?.ok ?? 0} ok)`);
  t.equal(r.daemonExit, 0, 'the daemon stops cleanly on SIGTERM after the run');
  t.equal(r.integrity, 'ok', 'integrity_check ok');
  t.ok(r.samples >= 10, `${r.samples} RSS/fd samples`);
  // Generous bounds: over one minute, garbage collection alone swings RSS by ±30 MB/min; keeping each 4 MiB
  // HTTP download's buffers, or one fd per transfer, would exceed these many times over.
  t.ok(r.rssMb.secondHalfSlopePerMin < 60, `RSS second-half slope ${r.rssMb.secondHalfSlopePerMin} MB/min < 60 (start ${r.rssMb.start}, end ${r.rssMb.end}, max ${r.rssMb.max} MB)`);
  t.ok(r.fds.secondHalfMax <= r.fds.firstHalfMax + 20, `open fds in the second half (max ${r.fds.secondHalfMax}) stay within 20 of the first half's max (${r.fds.firstHalfMax})`);
});
