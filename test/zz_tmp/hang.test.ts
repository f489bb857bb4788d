import t from 'tap';
import { createNetns } from '../e2e/lib/netns.js';
t.test('hang', async (t) => {
  const ns = await createNetns(t, 'fhang');
  const p = ns.spawn('sleep', ['1000']);
  console.error('NS', ns.name, 'PID', p.pid);
  await new Promise((r) => setTimeout(r, 60_000));
});
