import t from 'tap';
import { RenderedOutputs } from '../../src/boot/outputCache.js';
import { EventBus } from '../../src/events/bus.js';
import type { FarrierEvent } from '../../src/model/types.js';

const change = (type: string, key: string): FarrierEvent => ({ time: new Date().toISOString(), type, action: 'update', key, object: {} });

/** A renderer stand-in that counts its runs and says which run produced the bytes. */
function counter(): { runs: number; produce: () => Promise<Buffer> } {
  const c = {
    runs: 0,
    produce: async () => Buffer.from(`render ${++c.runs}`),
  };
  return c;
}

/** Waits until the wall-clock second changes, then returns at the start of a fresh second. */
async function nextSecond(): Promise<void> {
  const now = Date.now();
  await new Promise((r) => setTimeout(r, 1000 - (now % 1000) + 5));
}

t.test('a file asked for again within its second is the same render; every change that can alter it drops it at once', async (t) => {
  await nextSecond();
  const bus = new EventBus();
  const outputs = new RenderedOutputs(bus);
  t.teardown(() => outputs.close());
  const a = counter();
  const b = counter();
  const first = await outputs.get('uuid-a', 'ks.cfg', a.produce);
  t.equal((await outputs.get('uuid-a', 'ks.cfg', a.produce)).toString(), first.toString(), 'second request: same bytes');
  t.equal(a.runs, 1, 'rendered once');
  await outputs.get('uuid-b', 'ks.cfg', b.produce);

  bus.publish(change('machines', 'uuid-a'));
  t.equal((await outputs.get('uuid-a', 'ks.cfg', a.produce)).toString(), 'render 2', "the machine's own change: rendered again");
  await outputs.get('uuid-b', 'ks.cfg', b.produce);
  t.equal(b.runs, 1, "another machine's change leaves this machine's file");

  for (const type of ['bootenvs', 'templates', 'params', 'profiles', 'prefs']) {
    const before = b.runs;
    bus.publish(change(type, 'anything'));
    await outputs.get('uuid-b', 'ks.cfg', b.produce);
    t.equal(b.runs, before + 1, `a ${type} change drops every machine's files`);
  }
  bus.publish(change('leases', '10.0.0.9'));
  await outputs.get('uuid-b', 'ks.cfg', b.produce);
  t.equal(b.runs, 6, 'events that feed no render (leases) drop nothing');
});

t.test('a file is kept only for the second it was rendered in (machine tokens expire in whole seconds)', async (t) => {
  const outputs = new RenderedOutputs(new EventBus());
  t.teardown(() => outputs.close());
  const a = counter();
  await outputs.get(null, 'boot.ipxe', a.produce);
  await nextSecond();
  t.equal((await outputs.get(null, 'boot.ipxe', a.produce)).toString(), 'render 2', 'rendered again in the next second');
});

t.test('a failed render is not kept: the next request renders (and fails or succeeds) again', async (t) => {
  const outputs = new RenderedOutputs(new EventBus());
  t.teardown(() => outputs.close());
  let runs = 0;
  const broken = async (): Promise<Buffer> => {
    runs++;
    throw new Error('missing param');
  };
  await t.rejects(outputs.get('u', 'ks.cfg', broken), /missing param/);
  await t.rejects(outputs.get('u', 'ks.cfg', broken), /missing param/);
  t.equal(runs, 2, 'each request ran the render');
});

t.test('the number of files kept is bounded', async (t) => {
  await nextSecond();
  const outputs = new RenderedOutputs(new EventBus(), 100);
  t.teardown(() => outputs.close());
  const a = counter();
  for (let i = 0; i < 250; i++) await outputs.get(`m${i}`, 'ks.cfg', a.produce);
  await outputs.get('m249', 'ks.cfg', a.produce);
  t.equal(a.runs, 250, 'the newest file is still kept');
  await outputs.get('m0', 'ks.cfg', a.produce);
  t.equal(a.runs, 251, 'the oldest were dropped when the bound was reached');
});
