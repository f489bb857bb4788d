#!/usr/bin/env node
/**
 * Scale probe, run in the client namespace against a Farrier seeded by seed.mjs: times, each REPEAT times in
 * sequence (one request in flight, so the figure is the server's cost, not queueing), and reports the median
 * and p90 in ms:
 *   dora_first   the first DORA after start-up (one sample: it loads the DHCP server's machine index)
 *   dora_known   DORA (PXE ROM options) for a known machine with a bound lease, a different machine each time
 *   dora_reload  one DORA 31 s after the first, when that index has expired and is reloaded (one sample)
 *   api_by_name  GET /api/v1/machines?name=<one machine>          (one match, unique index)
 *   api_filter   GET /api/v1/machines?bootenv=local               (1 % of all machines match)
 *   api_page     GET /api/v1/machines?bootenv=rocky-9&limit=50    (first page of 99 %, with X-Total-Count)
 *   render_ipxe  GET /<mac>.ipxe                                  (the machine's iPXE script, rendered)
 *   render_ks    GET /machines/<uuid>/kickstart.cfg               (its kickstart, rendered)
 * usage: node probe.mjs --server IP --password PW --count N [--repeat 30]
 */
import { parseArgs } from 'node:util';
import { openDhcpClient } from '../lib/dhcp-client.mjs';

const { values: o } = parseArgs({
  options: { server: { type: 'string' }, password: { type: 'string' }, count: { type: 'string' }, repeat: { type: 'string', default: '30' } },
});
const count = Number(o.count);
const repeat = Number(o.repeat);
const url = `http://${o.server}:8091`;
const scaleMac = (i) => `52:54:0c:${[16, 8, 0].map((s) => ((i >> s) & 255).toString(16).padStart(2, '0')).join(':')}`;
const scaleName = (i) => `scale-${String(i).padStart(6, '0')}`;
/** Machine indexes spread over the whole set, none with bootenv local (every 100th). */
const picks = Array.from({ length: repeat }, (_, j) => {
  const i = Math.floor(((j + 0.5) * count) / repeat);
  return i % 100 === 0 ? i + 1 : i;
});

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 100) / 100;
  return { median: at(0.5), p90: at(0.9), n: s.length };
};

async function timed(fn) {
  const t0 = performance.now();
  const extra = await fn();
  return { ms: performance.now() - t0, extra };
}

const basic = `Basic ${Buffer.from(`admin:${o.password}`).toString('base64')}`;
const tokenRes = await fetch(`${url}/api/v1/tokens`, { method: 'POST', headers: { Authorization: basic, 'Content-Type': 'application/json' }, body: '{}' });
if (!tokenRes.ok) throw new Error(`token: HTTP ${tokenRes.status}`);
const auth = { Authorization: `Bearer ${(await tokenRes.json()).token}` };

async function get(path, headers = {}) {
  const res = await fetch(`${url}${path}`, { headers });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${body.slice(0, 200)}`);
  return { body, total: res.headers.get('x-total-count') };
}

const out = {};
const run = async (name, fn) => {
  const samples = [];
  let last;
  for (let j = 0; j < repeat; j++) {
    const r = await timed(() => fn(j));
    samples.push(r.ms);
    last = r.extra;
  }
  out[name] = { ...stats(samples), ...(last === undefined ? {} : { last }) };
};

// The first DHCP request after start-up loads the DHCP server's machine index: timed on its own.
const dhcp = await openDhcpClient();
const first = await timed(() => dhcp.dora(scaleMac(picks[0]), false));
out.dora_first = { median: Math.round(first.ms * 100) / 100, p90: Math.round(first.ms * 100) / 100, n: 1 };
const firstAt = performance.now();
// warm-up of the HTTP paths, so a cold JIT or page cache is not what the first sample measures
const machine = async (i) => JSON.parse((await get(`/api/v1/machines?name=${scaleName(i)}`, auth)).body)[0];
const warm = await machine(picks[0]);
await get(`/${warm.macs[0].replace(/:/g, '-')}.ipxe`);

await run('dora_known', async (j) => {
  const ack = await dhcp.dora(scaleMac(picks[j]), false);
  if (ack.file !== 'undionly.kpxe') throw new Error(`machine ${picks[j]} was offered "${ack.file}"`);
});
const machines = [];
await run('api_by_name', async (j) => {
  const m = await machine(picks[j]);
  if (!m || m.name !== scaleName(picks[j])) throw new Error(`machine ${scaleName(picks[j])} not found`);
  machines.push(m);
});
await run('api_filter', async () => {
  const r = await get('/api/v1/machines?bootenv=local', auth);
  const n = JSON.parse(r.body).length;
  if (n !== Math.ceil(count / 100)) throw new Error(`bootenv=local listed ${n}, expected ${Math.ceil(count / 100)}`);
  return { items: n, bytes: r.body.length };
});
await run('api_page', async () => {
  const r = await get('/api/v1/machines?bootenv=rocky-9&limit=50', auth);
  return { items: JSON.parse(r.body).length, total: Number(r.total) };
});
await run('render_ipxe', async (j) => {
  const r = await get(`/${machines[j].macs[0].replace(/:/g, '-')}.ipxe`);
  if (!r.body.includes(`/machines/${machines[j].uuid}/kickstart.cfg`)) throw new Error(`the script of ${machines[j].name} does not name its kickstart`);
});
await run('render_ks', async (j) => {
  const r = await get(`/machines/${machines[j].uuid}/kickstart.cfg`);
  if (!r.body.includes(`--hostname=${machines[j].name}`)) throw new Error(`kickstart of ${machines[j].name} lacks its hostname`);
});
// That index is reloaded whole once it is 30 s old (a backstop for writes by other processes): the request
// that finds it stale waits for the reload.
await new Promise((r) => setTimeout(r, Math.max(0, 31_000 - (performance.now() - firstAt))));
const reload = await timed(() => dhcp.dora(scaleMac(picks[1]), false));
out.dora_reload = { median: Math.round(reload.ms * 100) / 100, p90: Math.round(reload.ms * 100) / 100, n: 1 };
dhcp.close();
process.stdout.write(JSON.stringify({ count, repeat, ...out }) + '\n');
