/**
 * The DHCP server's in-memory directory: after its backstop period it rebuilds the machine index only when
 * another process (another database connection) has written, so a large installation is not stalled by a
 * reload every 30 s, and a machine written elsewhere is still found.
 */
import { join } from 'node:path';
import t from 'tap';
import { CachedDirectory } from '../../src/dhcp/directoryCache.js';
import type { Machine } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { machine as fixtureMachine } from '../boot/fixtures.js';
import { tempDir } from '../helpers/env.js';
import { storeDirectory } from './helpers/storeDirectory.js';

const machine = (uuid: string, mac: string): Machine => fixtureMachine({ uuid, name: uuid, macs: [mac], address: null });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('the machine index is reloaded after its period only when another process wrote', async (t) => {
  const path = join(tempDir(t, 'fdir-'), 'farrier.db');
  const ours = await openSqliteStore(path);
  const theirs = await openSqliteStore(path);
  t.teardown(async () => {
    await ours.close();
    await theirs.close();
  });
  await ours.put<Machine>('machines', 'm1', machine('m1', '52:54:00:00:00:01'), { mode: 'create' });

  const base = storeDirectory(ours);
  let loads = 0;
  const source = {
    ...base,
    machines: () => {
      loads++;
      return base.machines();
    },
    externalVersion: () => ours.externalVersion(),
  };
  const ttl = 40;
  const dir = new CachedDirectory(source, undefined, ttl);
  t.equal((await dir.machineByMac('52:54:00:00:00:01'))?.uuid, 'm1');
  t.equal(loads, 1, 'first lookup loads the index');

  await sleep(ttl * 3);
  t.equal((await dir.machineByMac('52:54:00:00:00:01'))?.uuid, 'm1');
  t.equal(loads, 1, 'nothing written elsewhere: the old index is kept past its period');

  await theirs.put<Machine>('machines', 'm2', machine('m2', '52:54:00:00:00:02'), { mode: 'create' });
  await sleep(ttl * 3);
  t.equal((await dir.machineByMac('52:54:00:00:00:02'))?.uuid, 'm2', 'after it, the machine another process wrote is found');
  t.equal(loads, 2, 'by one reload');
});

t.test('a source that cannot tell keeps the plain age-based reload', async (t) => {
  const path = join(tempDir(t, 'fdir-'), 'farrier.db');
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  const base = storeDirectory(store);
  let loads = 0;
  const dir = new CachedDirectory({ ...base, machines: () => (loads++, base.machines()) }, undefined, 40);
  await dir.machineByMac('52:54:00:00:00:01');
  await sleep(120);
  await dir.machineByMac('52:54:00:00:00:01');
  t.equal(loads, 2, 'reloaded once its period is over');
});
