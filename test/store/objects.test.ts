import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import type { Machine, Reservation, Subnet } from '../../src/model/types.js';
import type { Unstored } from '../../src/store/store.js';
import { tempStore } from './fixtures/tempStore.js';

function machine(uuid: string, name: string, macs: string[], extra: Partial<Machine> = {}): Unstored<Machine> {
  return {
    uuid,
    name,
    macs,
    address: null,
    arch: 'amd64',
    bootenv: 'local',
    profiles: [],
    params: {},
    description: '',
    available: true,
    errors: [],
    ...extra,
  };
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

t.test('create, get, replace, upsert, delete', async (t) => {
  const { store } = await tempStore(t);
  const created = await store.put<Machine>('machines', 'u1', machine('u1', 'm1', ['aa:00:00:00:00:01']), { mode: 'create' });
  t.equal(created.version, 1);
  t.equal(created.createdAt, created.updatedAt);
  t.match(created, { uuid: 'u1', name: 'm1' });
  t.same(await store.get('machines', 'u1'), created);
  t.equal(await store.get('machines', 'nope'), undefined);
  t.equal(await store.get('profiles', 'u1'), undefined, 'kinds are separate namespaces');

  const again = await rejection(store.put('machines', 'u1', machine('u1', 'm1', []), { mode: 'create' }));
  t.equal(again.code, 'CONFLICT');
  t.match(again.message, /machines "u1" already exists/);

  const missing = await rejection(store.put('machines', 'u2', machine('u2', 'm2', []), { mode: 'replace' }));
  t.equal(missing.code, 'NOT_FOUND');

  const replaced = await store.put<Machine>('machines', 'u1', machine('u1', 'm1b', []), { mode: 'replace' });
  t.equal(replaced.version, 2);
  t.equal(replaced.createdAt, created.createdAt, 'createdAt survives a replace');
  t.equal(replaced.name, 'm1b');

  const upserted = await store.put<Machine>('machines', 'u3', machine('u3', 'm3', []), { mode: 'upsert' });
  t.equal(upserted.version, 1);
  t.equal((await store.put<Machine>('machines', 'u3', machine('u3', 'm3', []), { mode: 'upsert' })).version, 2);

  const stale = { ...machine('u3', 'm3', []), version: 99, createdAt: 'x', updatedAt: 'y' };
  const kept = await store.put<Machine>('machines', 'u3', stale, { mode: 'upsert' });
  t.equal(kept.version, 3, 'metadata in the input is ignored');
  t.not(kept.createdAt, 'x');

  t.same(await store.delete('machines', 'u3'), kept);
  t.equal(await store.get('machines', 'u3'), undefined);
  t.equal(await store.delete('machines', 'u3'), undefined, 'deleting an absent key returns undefined');
});

t.test('unique fields: machine name and every MAC, reservation mac, subnet cidr', async (t) => {
  const { store } = await tempStore(t);
  await store.put('machines', 'u1', machine('u1', 'alpha', ['aa:00:00:00:00:01', 'aa:00:00:00:00:02']), { mode: 'create' });

  const byName = await rejection(store.put('machines', 'u2', machine('u2', 'alpha', []), { mode: 'create' }));
  t.equal(byName.code, 'CONFLICT');
  t.match(byName.message, /name "alpha" is already used by machines\/u1/);
  t.same(byName.detail, { field: 'name', value: 'alpha', holder: 'machines/u1' });

  const byMac = await rejection(
    store.put('machines', 'u2', machine('u2', 'beta', ['bb:00:00:00:00:01', 'aa:00:00:00:00:02']), { mode: 'create' }),
  );
  t.equal(byMac.code, 'CONFLICT');
  t.match(byMac.message, /macs "aa:00:00:00:00:02" is already used by machines\/u1/);
  t.same(byMac.fieldErrors.map((f) => f.field), ['/macs/1']);
  t.equal(await store.get('machines', 'u2'), undefined, 'the refused object was not written');

  t.ok(await store.put('machines', 'u1', machine('u1', 'alpha', ['aa:00:00:00:00:01']), { mode: 'replace' }),
    'an object may keep its own unique values');
  t.ok(await store.put('machines', 'u2', machine('u2', 'beta', ['aa:00:00:00:00:02', 'aa:00:00:00:00:02']), { mode: 'create' }),
    'a MAC released by one machine can be taken by another; a repeat inside one object is no clash');
  await store.delete('machines', 'u1');
  t.ok(await store.put('machines', 'u4', machine('u4', 'alpha', ['aa:00:00:00:00:01']), { mode: 'create' }),
    'deleting an object frees its unique values');

  await store.put('machines', 'n1', machine('n1', '', []), { mode: 'create' });
  t.ok(await store.put('machines', 'n2', machine('n2', '', []), { mode: 'create' }), 'an empty name reserves nothing');
  t.same((await store.list<Machine>('machines', { filters: [{ path: ['name'], value: '' }] })).items.map((m) => m.uuid),
    ['n1', 'n2'], 'and can still be filtered on');

  const res = (mac: string): Unstored<Reservation> => ({ address: '', mac, options: [], nextServer: null, description: '' });
  await store.put('reservations', '10.0.0.5', { ...res('cc:00:00:00:00:01'), address: '10.0.0.5' }, { mode: 'create' });
  const resErr = await rejection(store.put('reservations', '10.0.0.6', res('cc:00:00:00:00:01'), { mode: 'create' }));
  t.match(resErr.message, /reservations mac "cc:00:00:00:00:01" is already used by reservations\/10\.0\.0\.5/);
  t.ok(await store.put('machines', 'u5', machine('u5', 'gamma', ['cc:00:00:00:00:01']), { mode: 'create' }),
    'uniqueness is per kind');

  const subnet = (name: string, cidr: string) => ({ name, cidr, description: '' }) as unknown as Unstored<Subnet>;
  await store.put('subnets', 'lab', subnet('lab', '10.0.0.0/24'), { mode: 'create' });
  const subErr = await rejection(store.put('subnets', 'lab2', subnet('lab2', '10.0.0.0/24'), { mode: 'create' }));
  t.match(subErr.message, /subnets cidr "10\.0\.0\.0\/24" is already used by subnets\/lab/);
});

t.test('expectVersion gives optimistic concurrency', async (t) => {
  const { store } = await tempStore(t);
  const v1 = await store.put<Machine>('machines', 'u1', machine('u1', 'm', []), { mode: 'create' });
  const v2 = await store.put<Machine>('machines', 'u1', machine('u1', 'm', [], { description: 'a' }), {
    mode: 'replace',
    expectVersion: v1.version,
  });
  t.equal(v2.version, 2);
  const lost = await rejection(
    store.put('machines', 'u1', machine('u1', 'm', [], { description: 'b' }), { mode: 'replace', expectVersion: 1 }),
  );
  t.equal(lost.code, 'CONFLICT');
  t.match(lost.message, /expected version 1, found version 2/);
  t.equal((await store.get<Machine>('machines', 'u1'))?.description, 'a', 'the stale write changed nothing');
  const absent = await rejection(store.put('machines', 'zz', machine('zz', 'z', []), { mode: 'upsert', expectVersion: 1 }));
  t.match(absent.message, /expected version 1, found no object/);
});

t.test('list: filters on scalars, arrays, nested and odd names; sort, limit, offset, total', async (t) => {
  const { store } = await tempStore(t);
  const specs: [string, string, string[], Record<string, unknown>, string][] = [
    ['u1', 'delta', ['aa:00:00:00:00:01'], { rack: 'r1', 'ssh/keys': ['k1', 'k2'], 'rack.name': 'A', n: 3, on: true }, 'local'],
    ['u2', 'alpha', ['aa:00:00:00:00:02', 'aa:00:00:00:00:03'], { rack: 'r2', 'ssh/keys': ['k2'], n: 1, on: false }, 'discovery'],
    ['u3', 'charlie', [], { rack: 'r1', 'rack.name': 'B', n: 2, on: true, deep: { x: 'y' }, 'we"ird\\': 'x' }, 'local'],
    ['u4', 'bravo', ['aa:00:00:00:00:04'], { rack: 'r1', n: '3' }, 'local'],
  ];
  for (const [uuid, name, macs, params, bootenv] of specs) {
    await store.put('machines', uuid, machine(uuid, name, macs, { params, bootenv }), { mode: 'create' });
  }
  const keys = async (q: Parameters<typeof store.list>[1]) => {
    const r = await store.list<Machine>('machines', q);
    return { keys: r.items.map((m) => m.uuid), total: r.total };
  };

  t.same(await keys({}), { keys: ['u1', 'u2', 'u3', 'u4'], total: 4 }, 'default order is by key');
  t.same(await keys({ filters: [{ path: ['bootenv'], value: 'local' }] }), { keys: ['u1', 'u3', 'u4'], total: 3 });
  t.same(await keys({ filters: [{ path: ['macs'], value: 'aa:00:00:00:00:03' }] }), { keys: ['u2'], total: 1 },
    'an array field matches when one element equals');
  t.same((await keys({ filters: [{ path: ['params', 'ssh/keys'], value: 'k2' }] })).keys, ['u1', 'u2'],
    'a name with / is one key');
  t.same((await keys({ filters: [{ path: ['params', 'rack.name'], value: 'B' }] })).keys, ['u3'], 'a name with . is one key');
  t.same((await keys({ filters: [{ path: ['params', 'deep', 'x'], value: 'y' }] })).keys, ['u3'], 'nested objects');
  t.same((await keys({ filters: [{ path: ['params', 'deep'], value: 'y' }] })).keys, [], 'an object does not match its members');
  t.same((await keys({ filters: [{ path: ['params', 'n'], value: 3 }] })).keys, ['u1'], 'numbers do not match strings');
  t.same((await keys({ filters: [{ path: ['params', 'n'], value: '3' }] })).keys, ['u4']);
  t.same((await keys({ filters: [{ path: ['params', 'on'], value: true }] })).keys, ['u1', 'u3'], 'booleans');
  t.same((await keys({ filters: [{ path: ['params', 'on'], value: false }] })).keys, ['u2']);
  t.same((await keys({ filters: [{ path: ['address'], value: null }] })).keys, ['u1', 'u2', 'u3', 'u4'], 'null');
  t.same(
    (await keys({ filters: [{ path: ['bootenv'], value: 'local' }, { path: ['params', 'rack'], value: 'r1' }, { path: ['macs'], value: 'aa:00:00:00:00:04' }] })).keys,
    ['u4'],
    'all filters must match',
  );

  t.same((await keys({ sort: { path: ['name'] } })).keys, ['u2', 'u4', 'u3', 'u1'], 'sort by a field');
  t.same((await keys({ sort: { path: ['name'], desc: true } })).keys, ['u1', 'u3', 'u4', 'u2'], 'descending');
  t.same((await keys({ sort: { path: ['params', 'rack.name'] }, filters: [{ path: ['params', 'rack'], value: 'r1' }] })).keys,
    ['u4', 'u1', 'u3'], 'sort by a nested odd name; missing values first');
  t.same(await keys({ sort: { path: ['name'] }, limit: 2 }), { keys: ['u2', 'u4'], total: 4 }, 'total counts before limit');
  t.same(await keys({ sort: { path: ['name'] }, limit: 2, offset: 3 }), { keys: ['u1'], total: 4 }, 'offset');
  t.same(await keys({ offset: 10 }), { keys: [], total: 4 }, 'offset past the end');
  t.same(await keys({ filters: [{ path: ['bootenv'], value: 'local' }], limit: 1, offset: 1 }), { keys: ['u3'], total: 3 });

  t.equal((await store.findOne<Machine>('machines', [{ path: ['macs'], value: 'aa:00:00:00:00:02' }]))?.uuid, 'u2');
  t.equal((await store.findOne<Machine>('machines', [{ path: ['name'], value: 'bravo' }]))?.uuid, 'u4');
  t.equal(await store.findOne('machines', [{ path: ['name'], value: 'zulu' }]), undefined);

  const bad = await rejection(store.list('machines', { limit: -1 }));
  t.equal(bad.code, 'BAD_REQUEST');
  const empty = await rejection(store.list('machines', { filters: [{ path: [], value: 'x' }] }));
  t.equal(empty.code, 'BAD_REQUEST');
  t.same((await keys({ filters: [{ path: ['params', 'we"ird\\'], value: 'x' }] })).keys, ['u3'], 'quotes and backslashes in names are escaped');
});

t.test('delete blockedBy refuses while referenced, naming the users', async (t) => {
  const { store } = await tempStore(t);
  await store.put('bootenvs', 'centos', { name: 'centos' }, { mode: 'create' });
  await store.put('bootenvs', 'unused', { name: 'unused' }, { mode: 'create' });
  for (let i = 0; i < 25; i++) {
    const uuid = `u${String(i).padStart(2, '0')}`;
    await store.put('machines', uuid, machine(uuid, uuid, [], { bootenv: 'centos' }), { mode: 'create' });
  }
  await store.put('profiles', 'p1', { name: 'p1', params: {}, description: '', bootenvs: ['x', 'centos'] }, { mode: 'create' });
  const refs = [
    { kind: 'machines' as const, path: ['bootenv'] },
    { kind: 'profiles' as const, path: ['bootenvs'] },
  ];
  const err = await rejection(store.delete('bootenvs', 'centos', { blockedBy: refs }));
  t.equal(err.code, 'CONFLICT');
  t.match(err.message, /bootenvs "centos" is in use by 26 objects: machines\/u00, machines\/u01, .*machines\/u19 and 6 more/);
  t.same(err.detail?.total, 26);
  t.equal((err.detail?.users as string[]).length, 20, 'the list is capped');
  t.ok(await store.get('bootenvs', 'centos'), 'the refused delete removed nothing');

  t.equal((await store.delete<{ name: string }>('bootenvs', 'unused', { blockedBy: refs }))?.name, 'unused');

  for (let i = 0; i < 25; i++) await store.delete('machines', `u${String(i).padStart(2, '0')}`);
  const one = await rejection(store.delete('bootenvs', 'centos', { blockedBy: refs }));
  t.match(one.message, /in use by 1 object: profiles\/p1$/, 'array references count');
  await store.delete('profiles', 'p1');
  t.ok(await store.delete('bootenvs', 'centos', { blockedBy: refs }));
});

t.test('prefs merge, null removes, values keep their JSON type', async (t) => {
  const { store } = await tempStore(t);
  t.same(await store.getPrefs(), {});
  t.same(await store.setPrefs({ defaultBootEnv: 'local', autoRegister: true, n: 3, o: { a: [1] } }), {
    autoRegister: true,
    defaultBootEnv: 'local',
    n: 3,
    o: { a: [1] },
  });
  t.same(await store.setPrefs({ defaultBootEnv: 'discovery', n: null }), {
    autoRegister: true,
    defaultBootEnv: 'discovery',
    o: { a: [1] },
  });
  t.same(await store.getPrefs(), { autoRegister: true, defaultBootEnv: 'discovery', o: { a: [1] } });
});

t.test('machines and reservations are found by address, and only by their current one', async (t) => {
  const { store } = await tempStore(t);
  for (let i = 1; i <= 50; i++) {
    await store.put<Machine>('machines', `u${i}`, machine(`u${i}`, `m${i}`, [`aa:00:00:00:01:${i.toString(16).padStart(2, '0')}`], { address: `10.0.1.${i}` }), { mode: 'create' });
  }
  const byAddress = async (kind: 'machines' | 'reservations', address: string) =>
    (await store.list<{ uuid?: string; mac?: string }>(kind, { filters: [{ path: ['address'], value: address }] })).items;
  t.same((await byAddress('machines', '10.0.1.7')).map((m) => m.uuid), ['u7'], 'the one machine holding the address');
  t.same(await byAddress('machines', '10.0.1.99'), [], 'an address nobody holds');
  const cur = await store.get<Machine>('machines', 'u7');
  await store.put<Machine>('machines', 'u7', { ...machine('u7', 'm7', cur!.macs), address: '10.0.2.7' }, { mode: 'replace' });
  t.same(await byAddress('machines', '10.0.1.7'), [], 'the old address no longer finds it');
  t.same((await byAddress('machines', '10.0.2.7')).map((m) => m.uuid), ['u7'], 'the new one does');
  t.equal((await store.findOne<Machine>('machines', [{ path: ['address'], value: '10.0.1.8' }, { path: ['name'], value: 'm8' }]))?.uuid, 'u8',
    'with another filter too');
  await store.put<Reservation>('reservations', '10.0.3.1', { address: '10.0.3.1', mac: 'cc:00:00:00:00:01', options: [], nextServer: null, description: '' }, { mode: 'create' });
  t.same((await byAddress('reservations', '10.0.3.1')).map((r) => r.mac), ['cc:00:00:00:00:01'], 'a reservation by its address');
});
