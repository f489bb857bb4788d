#!/usr/bin/env node
// Runs the test suite with tap and ends with one plain line "N passed, N failed[, N skipped]".
// usage: node scripts/run-tests.mjs [FILE|DIR ...] [-- extra tap options]
// Without FILE/DIR arguments every test/**/*.test.ts runs, except support code (test/e2e/lib, fixtures,
// helper directories; the shared helpers' own tests under test/helpers/ do run).
// Counts are the leaf test points of tap's own final summary line ("# { total, pass, fail, skip, todo }").
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
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
// QEMU boots are CPU-heavy (TCG on 2 cores): files under these directories run alone, one at a time.
const SERIAL_DIRS = ['test/e2e', 'test/tftp/firmware'];
const tapArgs = ['--reporter=tap', ...SERIAL_DIRS.map((d) => `--serial=${d}`), ...tapExtra, ...files];
const started = Date.now();
const child = spawn(tapBin, tapArgs, { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });

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
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (!summary) {
    console.log(`run-tests: tap ended (code ${code}, signal ${signal}) without a summary after ${secs} s`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const passed = summary.pass ?? 0;
  const failed = summary.fail ?? 0;
  const skipped = (summary.skip ?? 0) + (summary.todo ?? 0);
  console.log(`run-tests: ${files.length} files in ${secs} s`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 || code !== 0 ? 1 : 0);
});
