#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by module (file or package), and
 * inclusive time of the functions whose name matches --focus. Text output, for the reports in docs/performance.md.
 * --after REGEX counts only the samples from the first one whose stack has a frame matching REGEX on (e.g.
 * `dispatch` to leave out start-up and time only the load a benchmark put on the daemon).
 * usage: node bench/lib/cpuprofile-top.mjs FILE.cpuprofile [--top 25] [--focus REGEX] [--after REGEX]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, focus: { type: 'string' }, after: { type: 'string' } } });
const prof = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const moduleOf = (url) => {
  if (!url) return '(native/vm)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url;
  const dist = /\/dist\/(.+)$/.exec(url);
  return dist ? `farrier ${dist[1]}` : url;
};
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

if (values.after) {
  const re = new RegExp(values.after);
  const onStack = (id) => {
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) if (re.test(label(byId.get(cur)))) return true;
    return false;
  };
  const start = prof.samples.findIndex(onStack);
  if (start < 0) throw new Error(`no sample has a frame matching /${values.after}/`);
  prof.samples = prof.samples.slice(start);
  prof.timeDeltas = prof.timeDeltas.slice(start);
}

// sample durations: timeDeltas[i] is the time before sample i
const self = new Map();
let total = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  total += dt;
  self.set(id, (self.get(id) ?? 0) + dt);
});

const fnSelf = new Map();
const modSelf = new Map();
for (const [id, dt] of self) {
  const n = byId.get(id);
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + dt);
  const m = moduleOf(n.callFrame.url);
  modSelf.set(m, (modSelf.get(m) ?? 0) + dt);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms`;
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
};
console.log(`profile ${positionals[0]}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time by module', modSelf);
print('self time by function', fnSelf);

if (values.focus) {
  // inclusive time: a sample counts once for every distinct matching frame on its stack
  const re = new RegExp(values.focus);
  const incl = new Map();
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur));
      if (re.test(l) && !seen.has(l)) {
        seen.add(l);
        incl.set(l, (incl.get(l) ?? 0) + dt);
      }
    }
  });
  print(`inclusive time of frames matching /${values.focus}/`, incl);
}
