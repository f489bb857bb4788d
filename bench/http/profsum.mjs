#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): the top frames by self time and by total (inclusive) time,
// as percentages of all samples. usage: node bench/http/profsum.mjs <file.cpuprofile> [topN]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfCount = new Map();
for (const id of prof.samples) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);
const total = prof.samples.length;

const label = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '~/').replace(/.*\/work\/main\//, '');
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
};
const self = new Map();
const incl = new Map();
for (const [id, count] of selfCount) {
  const n = byId.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + count);
  // Inclusive: count each distinct label once per sample stack.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + count);
  }
}
const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)} %`;
const print = (title, m) => {
  console.log(`\n${title} (${total} samples)`);
  for (const [l, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(c)}  ${l}`);
};
print('self time', self);
print('total time', incl);
