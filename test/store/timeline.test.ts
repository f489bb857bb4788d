/** The store's per-machine timeline: appends keep only the newest N per machine, reads are oldest first. */
import { join } from 'node:path';
import t from 'tap';
import type { TimelineEntry } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/env.js';

const entry = (machine: string, n: number): TimelineEntry => ({ time: new Date(1_800_000_000_000 + n).toISOString(), machine, kind: 'tftp', summary: `#${n}`, detail: { n } });

t.test('bounded per machine, pruned on append, survives reopening, deleted with the machine', async (t) => {
  const path = join(tempDir(t, 'ftls-'), 'farrier.db');
  const store = await openSqliteStore(path);
  await Promise.all([
    store.appendTimeline(Array.from({ length: 300 }, (_, i) => entry('m1', i)), 500),
    store.appendTimeline([entry('m2', 0), entry('m2', 1)], 500),
  ]);
  await store.appendTimeline(Array.from({ length: 220 }, (_, i) => entry('m1', 300 + i)), 500);
  const m1 = await store.timeline('m1', 1000);
  t.equal(m1.length, 500, 'only the newest 500 are kept');
  t.equal(m1[0]!.summary, '#20', 'the oldest 20 were pruned');
  t.equal(m1[499]!.summary, '#519', 'oldest first, newest last');
  t.same((await store.timeline('m1', 3)).map((e) => e.summary), ['#517', '#518', '#519'], 'limit gives the newest');
  t.same((await store.timeline('m2', 500)).map((e) => e.detail), [{ n: 0 }, { n: 1 }], 'another machine is untouched');
  await store.close();

  const reopened = await openSqliteStore(path);
  t.teardown(() => reopened.close());
  t.equal((await reopened.timeline('m1', 1000)).length, 500, 'persisted');
  await reopened.deleteTimeline('m1');
  t.same(await reopened.timeline('m1', 10), [], 'deleted');
  t.equal((await reopened.timeline('m2', 10)).length, 2);
});

t.test('one batch with more entries for a machine than are kept stores its newest ones, in order', async (t) => {
  const store = await openSqliteStore(join(tempDir(t, 'ftlb-'), 'farrier.db'));
  t.teardown(() => store.close());
  const batch = Array.from({ length: 1200 }, (_, i) => entry(i % 3 === 0 ? 'other' : 'busy', i));
  await store.appendTimeline(batch, 500);
  const busy = await store.timeline('busy', 1000);
  const expected = batch.filter((e) => e.machine === 'busy').slice(-500).map((e) => e.summary);
  t.same(busy.map((e) => e.summary), expected, 'the newest 500 of 800, oldest first');
  t.same((await store.timeline('other', 1000)).map((e) => e.summary), batch.filter((e) => e.machine === 'other').map((e) => e.summary), 'the other machine keeps all 400');
});
