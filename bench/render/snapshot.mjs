#!/usr/bin/env node
// For every machine in machines.jsonl: fetch its iPXE script, pxelinux config and kickstart from Farrier
// (checking each is a real render for that machine), write them under <static root> at the same paths for
// nginx, and write one path list per kind (<out>/<kind>.paths) for wrk.
// usage: node snapshot.mjs <farrier url> <machines.jsonl> <static root> <out dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [base, list, root, out] = process.argv.slice(2);
const machines = readFileSync(list, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const kinds = {
  ipxe: (m) => `${m.mac.replace(/:/g, '-')}.ipxe`,
  pxelinux: (m) => `pxelinux.cfg/01-${m.mac.replace(/:/g, '-')}`,
  kickstart: (m) => `machines/${m.uuid}/ks.cfg`,
};
const sizes = {};
for (const [kind, pathOf] of Object.entries(kinds)) {
  const paths = [];
  let bytes = 0;
  for (let i = 0; i < machines.length; i += 16) {
    await Promise.all(
      machines.slice(i, i + 16).map(async (m) => {
        const path = pathOf(m);
        const res = await fetch(`${base}/${path}`);
        const text = await res.text();
        if (res.status !== 200 || !text.includes(m.uuid)) {
          throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
        }
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
        paths.push(`/${path}`);
        bytes += Buffer.byteLength(text);
      }),
    );
  }
  writeFileSync(join(out, `${kind}.paths`), paths.join('\n') + '\n');
  sizes[kind] = Math.round(bytes / machines.length);
}
console.log(JSON.stringify(sizes));
