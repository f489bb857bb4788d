import t from 'tap';
import { EventBus } from '../../src/events/bus.js';
import type { FarrierEvent } from '../../src/model/types.js';

const ev = (type: string, key: string): FarrierEvent => ({ time: new Date().toISOString(), type, action: 'create', key });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('delivers by filter, asynchronously, in order', async (t) => {
  const bus = new EventBus();
  const machines: string[] = [];
  const all: string[] = [];
  const one: string[] = [];
  bus.subscribe({ type: 'machines' }, (e) => machines.push(e.key));
  bus.subscribe({}, (e) => all.push(e.key));
  bus.subscribe({ type: 'machines', key: 'm2' }, (e) => one.push(e.key));
  bus.publish(ev('machines', 'm1'));
  bus.publish(ev('profiles', 'p1'));
  bus.publish(ev('machines', 'm2'));
  t.same(all, [], 'publish does not run subscribers inline');
  await tick();
  t.same(machines, ['m1', 'm2']);
  t.same(all, ['m1', 'p1', 'm2']);
  t.same(one, ['m2']);
});

t.test('a slow subscriber has a bounded queue and learns what it missed', async (t) => {
  const bus = new EventBus();
  const got: string[] = [];
  let dropped = 0;
  bus.subscribe({}, (e) => got.push(e.key), { maxQueue: 3, onDrop: (n) => (dropped += n) });
  for (let i = 0; i < 10; i++) bus.publish(ev('x', `k${i}`));
  await tick();
  t.same(got, ['k7', 'k8', 'k9'], 'oldest dropped, newest kept');
  t.equal(dropped, 7);
});

t.test('unsubscribe stops delivery; a throwing subscriber does not hurt others', async (t) => {
  const bus = new EventBus();
  const got: string[] = [];
  bus.subscribe({}, () => {
    throw new Error('boom');
  });
  const off = bus.subscribe({}, (e) => got.push(e.key));
  bus.publish(ev('x', 'a'));
  await tick();
  off();
  bus.publish(ev('x', 'b'));
  await tick();
  t.same(got, ['a']);
  t.equal(bus.subscriberCount, 1);
});

t.test('observers run inline, before publish returns; one that throws stops neither publish nor the others', async (t) => {
  const bus = new EventBus();
  const seen: string[] = [];
  const queued: string[] = [];
  bus.subscribe({}, (e) => queued.push(e.key));
  bus.observe(() => {
    throw new Error('broken observer');
  });
  const stop = bus.observe((e) => seen.push(e.key));
  bus.publish(ev('machines', 'm1'));
  t.same(seen, ['m1'], 'seen before publish returned');
  t.same(queued, [], 'subscribers still wait for their turn');
  stop();
  bus.publish(ev('machines', 'm2'));
  t.same(seen, ['m1'], 'a removed observer sees nothing more');
  await tick();
  t.same(queued, ['m1', 'm2']);
});
