/**
 * Transfers carry only the client's address; the recorder attributes them to the machine holding that
 * address at the time, as machine events say, including after an address moved to another machine.
 */
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { EventBus } from '../../src/events/bus.js';
import type { FarrierEvent } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { TimelineRecorder } from '../../src/timeline/recorder.js';
import { tempDir } from '../helpers/env.js';

const now = (): string => new Date().toISOString();
const machineEvent = (uuid: string, action: string, address: string | null, mac: string): FarrierEvent => ({
  time: now(), type: 'machines', action, key: uuid, object: { uuid, name: uuid, bootenv: 'local', macs: [mac], address },
});
const fetched = (client: string, path: string): FarrierEvent => ({
  time: now(), type: 'http', action: 'get', key: client, object: { path, status: 200, bytes: 10, client, mac: null, uuid: null },
});

t.test('a transfer goes to the machine holding its address then; a moved address follows its new holder', async (t) => {
  const store = await openSqliteStore(join(tempDir(t, 'ftla-'), 'farrier.db'));
  t.teardown(() => store.close());
  // A holds 10.0.0.5 in the store before the recorder starts: found through the start-up list
  await store.put('machines', 'uuid-a', { uuid: 'uuid-a', name: 'a', bootenv: 'local', macs: ['02:00:00:00:00:0a'], address: '10.0.0.5' }, { mode: 'create' });
  const bus = new EventBus();
  const recorder = new TimelineRecorder({ store, bus, logger: pino({ level: 'silent' }), flushMs: 1 });
  await new Promise((r) => setTimeout(r, 20));
  bus.publish(fetched('10.0.0.5', '/kernel-1'));
  bus.publish(machineEvent('uuid-b', 'create', null, '02:00:00:00:00:0b'));
  // DHCP gives the address to B: A loses it first, then B gets it (MachineService.setAddress writes, then publishes)
  await store.put('machines', 'uuid-a', { uuid: 'uuid-a', name: 'a', bootenv: 'local', macs: ['02:00:00:00:00:0a'], address: null }, { mode: 'replace' });
  bus.publish(machineEvent('uuid-a', 'update', null, '02:00:00:00:00:0a'));
  bus.publish(machineEvent('uuid-b', 'update', '10.0.0.5', '02:00:00:00:00:0b'));
  bus.publish(fetched('10.0.0.5', '/kernel-2'));
  // B releases it: nobody holds the address any more
  bus.publish(machineEvent('uuid-b', 'update', null, '02:00:00:00:00:0b'));
  bus.publish(fetched('10.0.0.5', '/kernel-3'));
  await recorder.close();
  const http = async (uuid: string): Promise<string[]> => (await store.timeline(uuid, 100)).filter((e) => e.kind === 'http').map((e) => e.summary.split(' ')[2].replace(/:$/, ''));
  t.same(await http('uuid-a'), ['/kernel-1'], 'A: the fetch while it held the address');
  t.same(await http('uuid-b'), ['/kernel-2'], 'B: the fetch after the address moved to it');
  t.notOk([...(await http('uuid-a')), ...(await http('uuid-b'))].includes('/kernel-3'), 'a fetch from an address nobody holds is attributed to no one');
});

t.test('while B holds the moved address, its fetches are B\'s, with its MAC', async (t) => {
  const store = await openSqliteStore(join(tempDir(t, 'ftlb-'), 'farrier.db'));
  t.teardown(() => store.close());
  const bus = new EventBus();
  const recorder = new TimelineRecorder({ store, bus, logger: pino({ level: 'silent' }), flushMs: 1 });
  bus.publish(machineEvent('uuid-a', 'create', '10.0.0.7', '02:00:00:00:00:0a'));
  bus.publish(machineEvent('uuid-b', 'create', null, '02:00:00:00:00:0b'));
  bus.publish(fetched('10.0.0.7', '/one'));
  bus.publish(machineEvent('uuid-a', 'update', null, '02:00:00:00:00:0a'));
  bus.publish(machineEvent('uuid-b', 'update', '10.0.0.7', '02:00:00:00:00:0b'));
  bus.publish(fetched('10.0.0.7', '/two'));
  await recorder.close();
  const b = (await store.timeline('uuid-b', 100)).filter((e) => e.kind === 'http');
  t.same(b.map((e) => e.detail.path), ['/two']);
  t.equal(b[0]?.detail.mac, '02:00:00:00:00:0b');
  t.same((await store.timeline('uuid-a', 100)).filter((e) => e.kind === 'http').map((e) => e.detail.path), ['/one']);
});
