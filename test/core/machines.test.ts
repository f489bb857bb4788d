import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/app.js';
import { loadRepoContent } from '../../src/core/content.js';
import { createServices } from '../../src/core/services.js';
import { EventBus } from '../../src/events/bus.js';
import type { FarrierEvent } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { repoRoot } from '../api/harness.js';

async function setup(t: Test) {
  const store = await openSqliteStore(':memory:');
  t.teardown(() => store.close());
  const bus = new EventBus();
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', format: 'json' }, new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } }));
  const services = await createServices(store, bus, logger, { content: await loadRepoContent(repoRoot), tokenKey: randomBytes(32), tokenTtl: 60, machineTokenTtl: 60 });
  return { services, bus, logs };
}

t.test('setAddress: a bound lease moves an address, never two machines with one address', async (t) => {
  const { services, bus, logs } = await setup(t);
  const events: FarrierEvent[] = [];
  bus.subscribe({ type: 'machines' }, (e) => events.push(e));
  const a = await services.machines.create({ name: 'a', macs: ['52:54:00:00:00:0a'], address: '10.0.0.5' });
  const b = await services.machines.create({ name: 'b', macs: ['52:54:00:00:00:0b'] });
  t.equal(await services.machines.setAddress('52:54:00:00:00:ff', '10.0.0.9'), undefined, 'unknown MAC: nothing');
  const moved = await services.machines.setAddress('52-54-00-00-00-0B', '10.0.0.5');
  t.equal(moved?.uuid, b.uuid);
  t.equal(moved?.address, '10.0.0.5');
  t.equal((await services.machines.get(a.uuid)).address, null, 'the previous holder lost it');
  t.equal((await services.machines.byAddress('10.0.0.5'))?.uuid, b.uuid);
  t.equal((await services.machines.byMac('5254.0000.000b'))?.uuid, b.uuid);
  await Promise.all([services.machines.setAddress('52:54:00:00:00:0a', '10.0.0.7'), services.machines.setAddress('52:54:00:00:00:0b', '10.0.0.7')]);
  const holders = (await services.machines.list({ filters: [{ path: ['address'], value: '10.0.0.7' }] })).items;
  t.equal(holders.length, 1, 'concurrent claims leave one holder');
  await new Promise((r) => setImmediate(r));
  t.ok(events.some((e) => e.key === a.uuid && e.action === 'update'), 'changes are published');
  t.match(logs.join(''), /"mac":"52:54:00:00:00:0b"/, 'machine log lines carry the mac');
});

t.test('machine tokens from the service', async (t) => {
  const { services } = await setup(t);
  const m = await services.machines.create({ name: 'tok' });
  const raw = await services.machines.resolveRaw(m.uuid);
  const { token, expiresAt } = services.tokens.mintMachineToken(raw, 30);
  t.ok(Date.parse(expiresAt) - Date.now() <= 31_000);
  t.same(await services.tokens.check(token), { kind: 'machine', uuid: m.uuid });
  await services.machines.rotateTokenSecret(`name:tok`);
  t.equal(await services.tokens.check(token), undefined, 'rotation revokes');
  await services.machines.delete(m.uuid);
  const again = services.tokens.mintMachineToken(raw, 30);
  t.equal(await services.tokens.check(again.token), undefined, 'deleted machine: token refused');
});

t.test('first-start admin', async (t) => {
  const { services } = await setup(t);
  const first = await services.users.bootstrapAdmin(undefined);
  t.match(first, { name: 'admin', generated: true });
  t.ok((first?.password.length ?? 0) >= 20, 'random password');
  t.ok(await services.users.checkPassword('admin', first!.password));
  t.equal(await services.users.bootstrapAdmin('other'), undefined, 'only when there are no users');
});
