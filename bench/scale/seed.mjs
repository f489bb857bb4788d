#!/usr/bin/env node
/**
 * Fills a new Farrier data dir for the scale benchmark straight through the store API (src/store/sqlite, the
 * compiled copy passed with --dist): the REST API would take ~15 ms per machine here (validation, events,
 * one group commit each), i.e. 25 minutes for 100,000. Objects are written in the shape the API stores them
 * (compare GET /api/v1/machines/{uuid}); the store enforces the same unique fields (name, macs).
 *   one subnet `scale` 10.96.0.0/12 (pool 10.96.1.0 – 10.111.255.254)
 *   COUNT machines scale-NNNNNN, MAC 52:54:0c:xx:xx:xx, bootenv rocky-9 (every 100th: local), each with the
 *   address of its lease
 *   COUNT leases, bound, one per machine MAC, expiring in a day
 * Writes are issued 2,000 at a time so group commit puts each batch in one transaction.
 * usage: node seed.mjs --dist DIR/dist --data DATA_DIR --count N
 * Prints JSON: { count, seconds }.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({ options: { dist: { type: 'string' }, data: { type: 'string' }, count: { type: 'string' } } });
const count = Number(o.count);
const { openSqliteStore, ipv4ToInt } = await import(join(o.dist, 'store/sqlite/index.js'));

const POOL_START = '10.96.1.0';
const intToIp = (n) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const base = ipv4ToInt(POOL_START);

const scaleMac = (i) => `52:54:0c:${[16, 8, 0].map((s) => ((i >> s) & 255).toString(16).padStart(2, '0')).join(':')}`;

mkdirSync(o.data, { recursive: true });
const store = await openSqliteStore(join(o.data, 'farrier.db'), { durability: 'process' });
const t0 = performance.now();
await store.put(
  'subnets',
  'scale',
  {
    name: 'scale',
    cidr: '10.96.0.0/12',
    enabled: true,
    proxy: false,
    onlyReservations: false,
    activeStart: POOL_START,
    activeEnd: '10.111.255.254',
    leaseTime: 86400,
    reservedLeaseTime: 86400,
    nextServer: null,
    options: [],
    description: 'scale benchmark',
  },
  { mode: 'create' },
);
const expires = new Date(Date.now() + 86_400_000).toISOString();
const now = new Date().toISOString();
const BATCH = 2000;
for (let from = 0; from < count; from += BATCH) {
  const writes = [];
  for (let i = from; i < Math.min(count, from + BATCH); i++) {
    const mac = scaleMac(i);
    const address = intToIp(base + i);
    const uuid = randomUUID();
    writes.push(
      store.put(
        'machines',
        uuid,
        {
          name: `scale-${String(i).padStart(6, '0')}`,
          macs: [mac],
          address,
          arch: 'amd64',
          bootenv: i % 100 === 0 ? 'local' : 'rocky-9',
          profiles: [],
          params: {},
          description: '',
          available: true,
          errors: [],
          uuid,
          tokenSecret: randomBytes(24).toString('base64url'),
        },
        { mode: 'create' },
      ),
      store.putLease({ address, mac, state: 'bound', expiresAt: expires, subnet: 'scale', hostname: null, clientId: null, updatedAt: now }),
    );
  }
  await Promise.all(writes);
}
await store.close();
process.stdout.write(JSON.stringify({ count, seconds: Math.round((performance.now() - t0) / 100) / 10 }) + '\n');
