import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import type { Lease, LeaseState } from '../../src/model/types.js';
import { ipv4ToInt, openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempStore } from './fixtures/tempStore.js';

const NOW = new Date('2026-01-01T12:00:00Z');
const at = (secondsFromNow: number) => new Date(NOW.getTime() + secondsFromNow * 1000).toISOString();
const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function lease(address: string, mac: string, state: LeaseState = 'bound', expiresIn = 3600, subnet = 'lab'): Lease {
  return { address, mac, state, expiresAt: at(expiresIn), subnet, hostname: null, clientId: null, updatedAt: NOW.toISOString() };
}

async function rejection(p: Promise<unknown>): Promise<FarrierError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FarrierError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('claimLease: free, own, live, dead and declined rows', async (t) => {
  const { store } = await tempStore(t);
  const a = lease('10.0.0.10', 'aa:00:00:00:00:01');
  t.equal(await store.claimLease(a, NOW), true, 'a free address');
  t.same(await store.getLease('10.0.0.10'), a, 'the row reads back as written');
  t.same(await store.getLeaseByMac('aa:00:00:00:00:01'), a);
  t.equal(await store.getLease('10.0.0.11'), undefined);
  t.equal(await store.getLeaseByMac('ff:ff:ff:ff:ff:ff'), undefined);

  t.equal(await store.claimLease({ ...a, hostname: 'h1', expiresAt: at(7200) }, NOW), true, 'the holder renews');
  t.equal((await store.getLease('10.0.0.10'))?.hostname, 'h1');

  const b = lease('10.0.0.10', 'bb:00:00:00:00:01', 'offered');
  t.equal(await store.claimLease(b, NOW), false, 'a live lease of another MAC');
  t.equal((await store.getLease('10.0.0.10'))?.mac, 'aa:00:00:00:00:01', 'a refused claim changes nothing');
  t.equal(await store.getLeaseByMac('bb:00:00:00:00:01'), undefined);

  t.equal(await store.claimLease(b, new Date(NOW.getTime() + 7200 * 1000)), true, 'taken once its expiry has passed');
  t.equal((await store.getLease('10.0.0.10'))?.mac, 'bb:00:00:00:00:01');

  for (const state of ['released', 'expired'] as const) {
    await store.putLease(lease('10.0.0.20', 'cc:00:00:00:00:01', state, 3600));
    t.equal(await store.claimLease(lease('10.0.0.20', `dd:00:00:00:00:0${state.length}`), NOW), true, `a ${state} row is free`);
  }
  await store.putLease(lease('10.0.0.30', 'cc:00:00:00:00:02', 'declined', 60));
  t.equal(await store.claimLease(lease('10.0.0.30', 'ee:00:00:00:00:01'), NOW), false, 'declined until its expiry');
  t.equal(await store.claimLease(lease('10.0.0.30', 'ee:00:00:00:00:01'), new Date(NOW.getTime() + 60_000)), true,
    'and free when it ends');
});

t.test('a MAC holds one live lease: claiming elsewhere drops its other rows', async (t) => {
  const { store } = await tempStore(t);
  const mac = 'aa:00:00:00:00:01';
  await store.claimLease(lease('10.0.0.10', mac), NOW);
  await store.putLease(lease('10.0.0.12', mac, 'expired'));
  t.equal(await store.claimLease(lease('10.0.0.11', mac), NOW), true);
  t.same((await store.listLeases({ filters: [{ path: ['mac'], value: mac }] })).items.map((l) => l.address), ['10.0.0.11']);
  t.equal(await store.getLease('10.0.0.10'), undefined);
  t.equal((await store.getLeaseByMac(mac))?.address, '10.0.0.11');
  t.equal(await store.claimLease(lease('10.0.0.11', 'bb:00:00:00:00:01'), NOW), false);
  t.equal(await store.claimLease(lease('10.0.0.13', 'bb:00:00:00:00:01'), NOW), true,
    'the loser of a refused claim can claim another address');
});

t.test('claim races: one address, many MACs, exactly one wins', async (t) => {
  const { store, path } = await tempStore(t);
  const other = await openSqliteStore(path);
  t.teardown(() => other.close());
  const macs = Array.from({ length: 20 }, (_, i) => `aa:00:00:00:01:${String(i).padStart(2, '0')}`);
  const results = await Promise.all(
    macs.map((mac, i) => (i % 2 === 0 ? store : other).claimLease(lease('10.0.0.50', mac), NOW)),
  );
  t.equal(results.filter(Boolean).length, 1, 'one winner across two connections');
  const winner = macs[results.indexOf(true)];
  t.equal((await store.getLease('10.0.0.50'))?.mac, winner);
  t.equal((await other.getLease('10.0.0.50'))?.mac, winner, 'the other connection sees the same holder');
});

t.test('putLease, deleteLease, listLeases', async (t) => {
  const { store } = await tempStore(t);
  await store.putLease(lease('10.0.0.9', 'aa:00:00:00:00:09', 'bound', 100, 'lab'));
  await store.putLease(lease('10.0.0.10', 'aa:00:00:00:00:10', 'offered', 300, 'lab'));
  await store.putLease(lease('10.0.1.2', 'aa:00:00:00:00:02', 'bound', 200, 'other'));
  await store.putLease({ ...lease('10.0.0.200', 'aa:00:00:00:00:c8', 'released', 50, 'lab'), hostname: 'h', clientId: '01aabb' });
  await store.putLease(lease('10.0.0.10', 'aa:00:00:00:00:11', 'bound', 400, 'lab'));
  t.equal((await store.getLease('10.0.0.10'))?.mac, 'aa:00:00:00:00:11', 'putLease overwrites whoever held the row');

  const addrs = async (q: Parameters<typeof store.listLeases>[0]) => {
    const r = await store.listLeases(q);
    return { addrs: r.items.map((l) => l.address), total: r.total };
  };
  t.same(await addrs({}), { addrs: ['10.0.0.9', '10.0.0.10', '10.0.0.200', '10.0.1.2'], total: 4 }, 'numeric address order');
  t.same((await addrs({ filters: [{ path: ['subnet'], value: 'lab' }, { path: ['state'], value: 'bound' }] })).addrs,
    ['10.0.0.9', '10.0.0.10']);
  t.same((await addrs({ filters: [{ path: ['mac'], value: 'aa:00:00:00:00:02' }] })).addrs, ['10.0.1.2']);
  t.same((await addrs({ filters: [{ path: ['hostname'], value: null }] })).total, 3);
  t.same((await addrs({ sort: { path: ['expiresAt'], desc: true } })).addrs, ['10.0.0.10', '10.0.1.2', '10.0.0.9', '10.0.0.200']);
  t.same(await addrs({ sort: { path: ['address'], desc: true }, limit: 2, offset: 1 }), { addrs: ['10.0.0.200', '10.0.0.10'], total: 4 });
  t.same(await store.getLease('10.0.0.200'), {
    address: '10.0.0.200', mac: 'aa:00:00:00:00:c8', state: 'released', expiresAt: at(50), subnet: 'lab',
    hostname: 'h', clientId: '01aabb', updatedAt: NOW.toISOString(),
  });
  t.equal((await rejection(store.listLeases({ filters: [{ path: ['params', 'x'], value: 1 }] }))).code, 'BAD_REQUEST');

  t.equal((await store.deleteLease('10.0.0.9'))?.mac, 'aa:00:00:00:00:09');
  t.equal(await store.getLease('10.0.0.9'), undefined);
  t.equal(await store.deleteLease('10.0.0.9'), undefined);

  t.equal((await rejection(store.putLease(lease('10.0.0.256', 'aa:00:00:00:00:01')))).code, 'VALIDATION');
  t.equal((await rejection(store.getLease('fe80::1'))).code, 'VALIDATION');
  t.equal((await rejection(store.putLease({ ...lease('10.0.0.1', 'aa:00:00:00:00:01'), expiresAt: 'soon' }))).code, 'VALIDATION');
});

t.test('firstUnleased finds gaps at the edges, in the middle, and none when full', async (t) => {
  const { store } = await tempStore(t);
  const base = ipv4ToInt('10.0.0.0');
  const take = (...hosts: number[]) => Promise.all(hosts.map((h) => store.putLease(lease(ip(base + h), `aa:00:00:00:${String(h).padStart(2, '0')}:00`))));
  t.equal(await store.firstUnleased(base + 10, base + 20), base + 10, 'empty pool: the first address');
  await take(10, 11, 12, 14, 20);
  t.equal(await store.firstUnleased(base + 10, base + 20), base + 13, 'a hole in the middle');
  t.equal(await store.firstUnleased(base + 11, base + 20), base + 13);
  t.equal(await store.firstUnleased(base + 14, base + 20), base + 15);
  await take(13, 15, 16, 17, 18);
  t.equal(await store.firstUnleased(base + 10, base + 20), base + 19, 'the last free address before a leased end');
  await take(19);
  t.equal(await store.firstUnleased(base + 10, base + 20), undefined, 'a full pool');
  t.equal(await store.firstUnleased(base + 10, base + 21), base + 21, 'the upper bound is inclusive');
  t.equal(await store.firstUnleased(base + 20, base + 20), undefined, 'a one-address pool, taken');
  t.equal(await store.firstUnleased(base + 9, base + 9), base + 9, 'a one-address pool, free');
  t.equal(await store.firstUnleased(base + 12, base + 11), undefined, 'an empty range');
  t.equal(await store.firstUnleased(base + 12, base + 19), undefined, 'leases outside the range do not count');
  await store.deleteLease(ip(base + 10));
  t.equal(await store.firstUnleased(base + 10, base + 20), base + 10, 'a freed first address');
  await store.putLease(lease(ip(base + 10), 'aa:00:00:00:10:00', 'expired'));
  t.equal(await store.firstUnleased(base + 10, base + 20), undefined, 'a dead row still occupies its address (reclaim it instead)');
});

t.test('firstUnleased across /24 blocks: head, middle and tail of the range', async (t) => {
  const { store } = await tempStore(t);
  const base = ipv4ToInt('10.0.0.0');
  const writes: Promise<void>[] = [];
  for (let h = 0; h < 512 + 10; h++) writes.push(store.putLease(lease(ip(base + h), `02:00:00:00:${(h >> 8).toString(16)}:${(h & 255).toString(16)}`)));
  await Promise.all(writes);
  const at = (s: string) => ipv4ToInt(s);
  t.equal(await store.firstUnleased(at('10.0.0.5'), at('10.0.2.20')), at('10.0.2.10'), 'the first free address is in the last block');
  t.equal(await store.firstUnleased(at('10.0.0.5'), at('10.0.2.9')), undefined, 'three blocks, all taken');
  await store.deleteLease('10.0.0.2');
  t.equal(await store.firstUnleased(at('10.0.0.5'), at('10.0.2.9')), undefined, 'a hole before `from` does not count');
  t.equal(await store.firstUnleased(at('10.0.0.2'), at('10.0.2.9')), at('10.0.0.2'));
  await store.deleteLease('10.0.1.255');
  t.equal(await store.firstUnleased(at('10.0.0.5'), at('10.0.2.20')), at('10.0.1.255'), 'the last address of a middle block');
  t.equal(await store.firstUnleased(at('10.0.0.250'), at('10.0.1.254')), undefined, 'two blocks, no middle, all taken');
  await store.putLease(lease('10.0.1.255', 'aa:00:00:00:00:01', 'offered'));
  await store.putLease(lease('10.0.1.255', 'aa:00:00:00:00:01', 'bound'));
  t.equal(await store.firstUnleased(at('10.0.0.5'), at('10.0.2.20')), at('10.0.2.10'), 'an update in place keeps the block full');
  await store.deleteLease('10.0.1.0');
  t.equal(await store.firstUnleased(at('10.0.0.255'), at('10.0.2.9')), at('10.0.1.0'), 'the first address of a middle block');
  t.equal(await store.firstUnleased(at('10.0.3.7'), at('10.0.9.1')), at('10.0.3.7'), 'blocks never used');
  t.equal(await store.checkIntegrity(), 'ok', 'block counts agree with the lease rows');
});

t.test('firstUnleased on a /16 pool with 100k lease rows', async (t) => {
  const { store } = await tempStore(t, { durability: 'process' });
  const pool = { from: ipv4ToInt('10.1.0.1'), to: ipv4ToInt('10.1.255.254') };
  const writes: Promise<void>[] = [];
  for (let n = pool.from; n <= pool.to; n++) writes.push(store.putLease(lease(ip(n), `02:00:${ip(n).split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}`)));
  const outside = ipv4ToInt('10.2.0.0');
  for (let i = 0; writes.length < 100_000; i++) writes.push(store.putLease(lease(ip(outside + i), `04:00:00:${(i >>> 16).toString(16)}:${((i >>> 8) & 255).toString(16)}:${(i & 255).toString(16)}`)));
  await Promise.all(writes);
  t.equal((await store.listLeases({ limit: 0 })).total, 100_000);

  t.equal(await store.firstUnleased(pool.from, pool.to), undefined, 'every address of the /16 is leased');
  t.equal(await store.firstUnleased(pool.from, pool.to + 1), pool.to + 1, 'the address after the pool is free');
  await store.deleteLease('10.1.200.7');
  await store.deleteLease('10.1.250.1');
  t.equal(await store.firstUnleased(pool.from, pool.to), ipv4ToInt('10.1.200.7'), 'the one hole, deep in the pool');
  t.equal(await store.firstUnleased(ipv4ToInt('10.1.200.8'), pool.to), ipv4ToInt('10.1.250.1'), 'the next hole');
  t.same(await store.leaseCounts(pool.from, pool.to), { bound: 65_532 });
  t.equal(await store.checkIntegrity(), 'ok');
});

t.test('oldestReclaimable, sweepLeases, leaseCounts', async (t) => {
  const { store } = await tempStore(t);
  await store.putLease(lease('10.0.0.1', 'aa:00:00:00:00:01', 'bound', 600)); // live
  await store.putLease(lease('10.0.0.2', 'aa:00:00:00:00:02', 'bound', -100)); // lapsed
  await store.putLease(lease('10.0.0.3', 'aa:00:00:00:00:03', 'released', 900)); // released early
  await store.putLease(lease('10.0.0.4', 'aa:00:00:00:00:04', 'declined', 300)); // declined, still blocked
  await store.putLease(lease('10.0.0.5', 'aa:00:00:00:00:05', 'declined', -500)); // declined, past
  await store.putLease(lease('10.0.0.6', 'aa:00:00:00:00:06', 'offered', -50)); // offer never taken
  await store.putLease(lease('10.0.1.1', 'aa:00:00:00:01:01', 'expired', -9999)); // oldest, but outside
  const lo = ipv4ToInt('10.0.0.1');
  const hi = ipv4ToInt('10.0.0.254');

  t.equal((await store.oldestReclaimable(lo, hi, NOW))?.address, '10.0.0.5', 'the one that expired first');
  t.equal((await store.oldestReclaimable(ipv4ToInt('10.0.0.3'), ipv4ToInt('10.0.0.4'), NOW))?.address, '10.0.0.3',
    'released counts whatever its expiry; declined before expiry never');
  t.equal(await store.oldestReclaimable(lo, lo, NOW), undefined, 'a live lease is not reclaimable');
  t.equal((await store.oldestReclaimable(lo, hi + 1000, NOW))?.address, '10.0.1.1');

  t.same(await store.leaseCounts(lo, hi), { bound: 2, released: 1, declined: 2, offered: 1 });

  t.equal(await store.sweepLeases(NOW), 3, 'two lapsed leases marked, one declined row deleted');
  t.equal((await store.getLease('10.0.0.2'))?.state, 'expired');
  t.equal((await store.getLease('10.0.0.2'))?.updatedAt, NOW.toISOString());
  t.equal((await store.getLease('10.0.0.6'))?.state, 'expired');
  t.equal(await store.getLease('10.0.0.5'), undefined);
  t.equal((await store.getLease('10.0.0.1'))?.state, 'bound', 'live leases untouched');
  t.equal((await store.getLease('10.0.0.4'))?.state, 'declined');
  t.same(await store.leaseCounts(lo, hi), { bound: 1, released: 1, declined: 1, expired: 2 });
  t.equal(await store.sweepLeases(NOW), 0, 'a second sweep finds nothing');
});
