#!/usr/bin/env node
/**
 * Prepares a running Farrier for the boot storm through its REST API, and snapshots what it renders so the
 * reference stack (dnsmasq + nginx) serves byte-for-byte equivalent static files.
 *   node setup.mjs create   --url URL --password PW --count 1000 --bootenv rocky-9 --cidr C --start IP --end IP --machines FILE
 *     one subnet and COUNT machines (MAC 52:54:0b:xx:xx:xx, name storm-NNNN); writes "mac name" lines to FILE
 *   node setup.mjs snapshot --url URL --password PW --machines FILE --root DIR
 *     GET boot.ipxe, every machine's <mac>.ipxe and the installer config its kernel line names, written under
 *     DIR at their URL paths (what nginx then serves)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const [cmd, ...rest] = process.argv.slice(2);
const { values: o } = parseArgs({
  args: rest,
  options: {
    url: { type: 'string' },
    password: { type: 'string' },
    count: { type: 'string', default: '1000' },
    bootenv: { type: 'string', default: 'rocky-9' },
    cidr: { type: 'string' },
    start: { type: 'string' },
    end: { type: 'string' },
    machines: { type: 'string' },
    root: { type: 'string' },
  },
});

async function call(method, path, body, auth) {
  const res = await fetch(`${o.url}${path}`, {
    method,
    headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs `fn` over `items` with `width` in flight. */
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

// Basic auth costs a scrypt per call: exchange it once for a bearer token
const basic = `Basic ${Buffer.from(`admin:${o.password}`).toString('base64')}`;
const { token } = await call('POST', '/api/v1/tokens', {}, basic);
const auth = `Bearer ${token}`;

if (cmd === 'create') {
  await call('POST', '/api/v1/subnets', { name: 'storm', cidr: o.cidr, activeStart: o.start, activeEnd: o.end, leaseTime: 3600 }, auth);
  const count = Number(o.count);
  const list = Array.from({ length: count }, (_, i) => ({
    mac: `52:54:0b:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    name: `storm-${String(i).padStart(5, '0')}`,
  }));
  const t0 = performance.now();
  await pool(list, 8, (m) => call('POST', '/api/v1/machines', { name: m.name, macs: [m.mac], bootenv: o.bootenv }, auth));
  writeFileSync(o.machines, list.map((m) => `${m.mac} ${m.name}`).join('\n') + '\n');
  process.stdout.write(`created subnet ${o.cidr} and ${count} machines in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
} else if (cmd === 'snapshot') {
  const get = async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return res.text();
  };
  const save = (url, text) => {
    const path = join(o.root, decodeURIComponent(new URL(url).pathname));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  save(`${o.url}/boot.ipxe`, await get(`${o.url}/boot.ipxe`));
  const list = readFileSync(o.machines, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
  await pool(list, 8, async (mac) => {
    const url = `${o.url}/${mac.replace(/:/g, '-')}.ipxe`;
    const script = await get(url);
    save(url, script);
    const ks = /\binst\.ks=(\S+)/.exec(script)?.[1];
    if (!ks) throw new Error(`${url} names no inst.ks= config`);
    save(ks, await get(ks));
  });
  process.stdout.write(`snapshot of boot.ipxe and ${list.length} scripts + configs in ${o.root}\n`);
} else {
  throw new Error('usage: setup.mjs create|snapshot ...');
}
