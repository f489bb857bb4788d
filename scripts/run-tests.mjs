#!/usr/bin/env node
// Runs the test suite with tap and ends with one plain line "N passed, N failed[, N skipped]".
// usage: node scripts/run-tests.mjs [FILE|DIR ...] [-- extra tap options]
// Without FILE/DIR arguments every test/**/*.test.ts runs, except support code (test/e2e/lib, fixtures,
// helper directories; the shared helpers' own tests under test/helpers/ do run).
// First dist/ is rebuilt (tsc -p tsconfig.build.json) when a source is newer than it, because the tests
// that run the real `farrier` process use dist/cli/main.js. Then two tap runs: every other file in
// parallel (tap's default: one job per core) with package.json's per-file timeout, and after them the
// QEMU-booting files alone, one at a time, with a longer one (HEAVY_TIMEOUT).
// Counts are the leaf test points of tap's own final summary lines ("# { total, pass, fail, skip, todo }").
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const isTestFile = (p) => p.endsWith('.test.ts');
const excluded = (p) => {
  const parts = p.split(sep);
  if (p.startsWith(join('test', 'e2e', 'lib') + sep)) return true;
  if (parts.includes('fixtures') || parts.includes('fixture')) return true;
  const helperIdx = parts.indexOf('helpers');
  // test/helpers/*.test.ts test the shared helpers themselves; other helper dirs hold support code only
  if (helperIdx !== -1 && !(helperIdx === 1 && parts.length === 3)) return true;
  return false;
};
const collect = (dir) =>
  readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((p) => isTestFile(p) && !excluded(relative(root, p)) && statSync(p).isFile())
    .sort();

const args = process.argv.slice(2);
const dd = args.indexOf('--');
const targets = dd === -1 ? args : args.slice(0, dd);
const tapExtra = dd === -1 ? [] : args.slice(dd + 1);

let files = [];
for (const target of targets.length ? targets : ['test']) {
  if (!existsSync(target)) {
    console.error(`run-tests: no such file or directory: ${target}`);
    process.exit(2);
  }
  files.push(...(statSync(target).isDirectory() ? collect(target) : [target]));
}
files = [...new Set(files)];
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(2);
}

const tapBin = join(root, 'node_modules', '.bin', 'tap');
// QEMU boots are CPU-heavy (TCG on 2 cores), and so are the robustness runs (1M-datagram DHCP fuzz, kill -9 under perfdhcp, disk faults, soak):
// these run after everything else, alone, one at a time.
const SERIAL_DIRS = ['test/e2e', 'test/tftp/firmware', 'test/http/qemuBoot.test.ts'];
const SERIAL_FILES = ['test/http/qemuBoot.test.ts', 'test/robustness/dhcpFuzz.test.ts', 'test/robustness/crash.test.ts', 'test/robustness/disk.test.ts', 'test/robustness/soak.test.ts'];
// Seconds a QEMU-booting file may take before tap kills it (other files: package.json "tap".timeout).
const HEAVY_TIMEOUT = 900;
const isHeavy = (f) => {
  const rel = relative(root, resolve(f)).split(sep).join('/');
  return SERIAL_FILES.includes(rel) || SERIAL_DIRS.some((d) => rel.startsWith(`${d}/`));
};
const started = Date.now();

/** Why dist/ needs a rebuild (a build input newer than dist/cli/main.js, or no build), or undefined. */
function distIsStale() {
  const entry = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(entry)) return 'dist/cli/main.js is missing';
  const built = statSync(entry).mtimeMs;
  const inputs = [join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), join(root, 'package.json')];
  for (const f of readdirSync(join(root, 'src'), { recursive: true })) if (String(f).endsWith('.ts')) inputs.push(join(root, 'src', String(f)));
  const newer = inputs.find((f) => existsSync(f) && statSync(f).mtimeMs > built);
  return newer ? `${relative(root, newer)} is newer than dist/` : undefined;
}

let buildFailed = false;
const stale = distIsStale();
if (stale) {
  console.log(`# run-tests: ${stale}: building (tsc -p tsconfig.build.json)`);
  const tsc = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (tsc.status !== 0) {
    buildFailed = true;
    // Shown as TAP comments so the stream stays parseable; the run goes on so the tests still report.
    for (const line of `${tsc.stdout}${tsc.stderr}`.trimEnd().split('\n')) console.log(`# tsc: ${line}`);
    console.log(`# run-tests: the build failed (tsc exit ${tsc.status}); counted as one failure`);
  }
}

/** Runs tap on `list` with `extra` options; resolves to tap's summary counts (or undefined) and exit code. */
function runTap(list, extra) {
  return new Promise((resolve) => {
    const child = spawn(tapBin, ['--reporter=tap', ...extra, ...tapExtra, ...list], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let summary;
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail += chunk.toString();
      const lines = tail.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^# \{ (total: .*) \}\s*$/.exec(line);
        if (m) summary = Object.fromEntries(m[1].split(', ').map((kv) => { const [k, v] = kv.split(': '); return [k, Number(v)]; }));
      }
    });
    child.on('close', (code, signal) => {
      if (!summary) console.log(`run-tests: tap ended (code ${code}, signal ${signal}) without a summary`);
      resolve({ summary, code });
    });
  });
}

const light = files.filter((f) => !isHeavy(f));
const heavy = files.filter(isHeavy);
const runs = [];
if (light.length) runs.push(await runTap(light, []));
if (heavy.length) runs.push(await runTap(heavy, ['--jobs=1', `--timeout=${HEAVY_TIMEOUT}`]));

const secs = ((Date.now() - started) / 1000).toFixed(1);
let passed = 0;
let failed = buildFailed ? 1 : 0;
let skipped = 0;
for (const { summary, code } of runs) {
  if (!summary) {
    failed += 1;
    continue;
  }
  passed += summary.pass ?? 0;
  failed += summary.fail ?? 0;
  skipped += (summary.skip ?? 0) + (summary.todo ?? 0);
  // tap failing without a failed test point (e.g. a file that crashed before planning) still fails the run
  if (code !== 0 && !(summary.fail > 0)) failed += 1;
}
console.log(`run-tests: ${files.length} files in ${secs} s`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
