/** Lease policy over the real SQLite store: allocation order, holds, reclaim, quarantine, expiry, scale. */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { LeaseEngine } from '../../src/core/leaseEngine.js';
import type { Subnet } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/env.js';
import { subnet } from '../dhcp/helpers/storeDirectory.js';

const stamp = { createdAt: '', updatedAt: '', version: 1 };
const net = (start: string, end: string, extra: Partial<Subnet> = {}): Subnet => ({ ...subnet('s', '10.5.0.0/16', start, end, extra), ...stamp });

async function setup(t: Test, nowRef: { now: Date }) {
  const store = await openSqliteStore(join(tempDir(t), 'l.db'));
  t.teardown(() => store.close());
  const engine = new LeaseEngine(store, { offerHoldSeconds: 30, declineQuarantineSeconds: 300, now: () => nowRef.now });
  return { store, engine };
}

const req = (mac: string, s: Subnet, requested?: string) => ({ mac, subnet: s, hostname: null, clientId: null, requested });

t.test('allocation order: MAC lease, requested, next free, oldest reclaimable', async (t) => {
  const clock = { now: new Date('2026-01-01T00:00:00Z') };
  const { store, engine } = await setup(t, clock);
  const s = net('10.5.0.10', '10.5.0.13');
  const a = await engine.offer(req('aa:00:00:00:00:01', s));
  t.equal(a?.address, '10.5.0.10');
  t.equal(a?.state, 'offered');
  t.equal((await engine.offer(req('aa:00:00:00:00:01', s)))?.address, '10.5.0.10', 'same MAC, same address');
  t.equal((await engine.offer(req('aa:00:00:00:00:02', s, '10.5.0.13')))?.address, '10.5.0.13', 'requested address when free');
  t.equal((await engine.offer(req('aa:00:00:00:00:03', s, '10.5.0.13')))?.address, '10.5.0.11', 'requested but taken: next free');
  t.equal((await engine.offer(req('aa:00:00:00:00:04', s)))?.address, '10.5.0.12');
  t.equal(await engine.offer(req('aa:00:00:00:00:05', s)), undefined, 'pool exhausted while holds are live');

  const bound = await engine.bind({ ...req('aa:00:00:00:00:01', s), address: '10.5.0.10' });
  t.equal(bound?.state, 'bound');
  t.equal(await engine.bind({ ...req('aa:00:00:00:00:05', s), address: '10.5.0.10' }), undefined, 'cannot bind a live lease of another MAC');

  clock.now = new Date(clock.now.getTime() + 31_000);
  t.equal((await engine.offer(req('aa:00:00:00:00:05', s)))?.address, '10.5.0.11', 'expired holds are reclaimed (lazy expiry; equal expiry: lowest address)');
  t.equal((await store.getLease('10.5.0.10'))?.state, 'bound', 'bound lease untouched');
  clock.now = new Date(clock.now.getTime() + 3600_000);
  t.ok((await store.sweepLeases(clock.now)) > 0, 'periodic sweep expires rows');
  t.equal((await store.getLease('10.5.0.10'))?.state, 'expired');
  t.equal((await engine.offer(req('aa:00:00:00:00:01', s)))?.address, '10.5.0.10', 'a returning MAC gets its expired address back');
});

t.test('release frees, decline quarantines', async (t) => {
  const clock = { now: new Date('2026-01-01T00:00:00Z') };
  const { store, engine } = await setup(t, clock);
  const s = net('10.5.0.10', '10.5.0.11');
  await engine.bind({ ...req('bb:00:00:00:00:01', s), address: '10.5.0.10' });
  await engine.release('bb:00:00:00:00:02', '10.5.0.10');
  t.equal((await store.getLease('10.5.0.10'))?.state, 'bound', 'another MAC cannot release it');
  await engine.release('bb:00:00:00:00:01', '10.5.0.10');
  t.equal((await store.getLease('10.5.0.10'))?.state, 'released');
  t.equal((await engine.offer(req('bb:00:00:00:00:03', s)))?.address, '10.5.0.11');
  await engine.bind({ ...req('bb:00:00:00:00:03', s), address: '10.5.0.11' });
  await engine.decline('bb:00:00:00:00:03', '10.5.0.11');
  t.equal((await engine.offer(req('bb:00:00:00:00:03', s)))?.address, '10.5.0.10', 'decliner moves to the released address');
  await engine.bind({ ...req('bb:00:00:00:00:03', s), address: '10.5.0.10' });
  t.equal(await engine.offer(req('bb:00:00:00:00:04', s)), undefined, 'declined address is not handed out during quarantine');
  clock.now = new Date(clock.now.getTime() + 301_000);
  t.equal((await engine.offer(req('bb:00:00:00:00:04', s)))?.address, '10.5.0.11', 'after quarantine it is reclaimable');
});

t.test('reservations: fixed address, never given to another MAC from the pool', async (t) => {
  const clock = { now: new Date('2026-01-01T00:00:00Z') };
  const { store, engine } = await setup(t, clock);
  await store.put('reservations', '10.5.0.10', { address: '10.5.0.10', mac: 'cc:00:00:00:00:01', options: [], nextServer: null, description: '' }, { mode: 'create' });
  const s = net('10.5.0.10', '10.5.0.12');
  t.equal((await engine.offer(req('cc:00:00:00:00:02', s)))?.address, '10.5.0.11', 'reserved pool address skipped');
  t.equal((await engine.offer(req('cc:00:00:00:00:03', s, '10.5.0.10')))?.address, '10.5.0.12', 'and not honoured as option 50');
  const r = await store.findOne<{ address: string; mac: string }>('reservations', [{ path: ['mac'], value: 'cc:00:00:00:00:01' }]);
  const resv = { ...(r as object), address: '10.5.0.10', mac: 'cc:00:00:00:00:01', options: [], nextServer: null, description: '', ...stamp };
  t.equal((await engine.offer({ ...req('cc:00:00:00:00:01', s), reservation: resv }))?.address, '10.5.0.10');
  const only = net('10.5.0.10', '10.5.0.12', { onlyReservations: true });
  t.equal(await engine.offer(req('cc:00:00:00:00:09', only)), undefined, 'onlyReservations: no pool address');
});

t.test('a /16 pool with 60k leases still allocates (cursor + index search, no scan)', async (t) => {
  const clock = { now: new Date('2026-01-01T00:00:00Z') };
  const { store, engine } = await setup(t, clock);
  const s = net('10.5.0.1', '10.5.255.254');
  const expires = new Date(clock.now.getTime() + 3600_000).toISOString();
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 60_000; i++) {
    const n = 0x0a050001 + i;
    const address = `10.5.${(n >> 8) & 255}.${n & 255}`;
    const mac = `dd:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    writes.push(store.putLease({ address, mac, state: 'bound', expiresAt: expires, subnet: 's', hostname: null, clientId: null, updatedAt: clock.now.toISOString() }));
  }
  await Promise.all(writes);
  const got = await engine.offer(req('ee:00:00:00:00:01', s));
  t.equal(got?.address, '10.5.234.97', 'first address after the 60k leased run');
  const next = await engine.offer(req('ee:00:00:00:00:02', s));
  t.equal(next?.address, '10.5.234.98');
});
