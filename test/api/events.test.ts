import { request } from 'node:http';
import t from 'tap';
import { PASSWORDS, basic, makeHarness } from './harness.js';

/**
 * Waits for `what` to happen; if it never does, rejects after a generous bound with a message saying what
 * was awaited, so a lost event fails this file in seconds instead of hanging it until tap's timeout.
 */
function eventually<T>(what: string, p: Promise<T>, detail: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} never happened (waited 30 s); ${detail()}`)), 30_000);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

/** Opens the SSE stream on a real socket and collects `data:` events. */
function openStream(base: string, path: string, auth: string): Promise<{ status: number; events: Record<string, unknown>[]; close: () => void; next: (n: number) => Promise<void> }> {
  const opened = new Promise<Awaited<ReturnType<typeof openStream>>>((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { authorization: auth } }, (res) => {
      const events: Record<string, unknown>[] = [];
      const waiters: { n: number; done: () => void }[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let idx: number;
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)) as Record<string, unknown>);
        }
        for (const w of [...waiters]) if (events.length >= w.n) w.done();
      });
      resolve({
        status: res.statusCode ?? 0,
        events,
        close: () => req.destroy(),
        next: (n) =>
          eventually(
            `${n} event(s) on ${path}`,
            new Promise<void>((done) => (events.length >= n ? done() : waiters.push({ n, done }))),
            () => `got ${events.length}: ${JSON.stringify(events)}`,
          ),
      });
    });
    req.on('error', reject);
    req.end();
  });
  return eventually(`the response to GET ${path}`, opened, () => 'no response headers arrived');
}

t.test('GET /api/v1/events streams a create, filtered by type', async (t) => {
  const { app, api } = await makeHarness(t);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const auth = basic('reader', PASSWORDS.reader);
  const machinesOnly = await openStream(base, '/api/v1/events?type=machines', auth);
  const all = await openStream(base, '/api/v1/events', auth);
  t.teardown(() => {
    machinesOnly.close();
    all.close();
  });
  t.equal(machinesOnly.status, 200);
  await api('POST', '/api/v1/profiles', { body: { name: 'evp' } });
  const created = (await api('POST', '/api/v1/machines', { body: { name: 'ev1' } })).body as { uuid: string };
  await machinesOnly.next(1);
  t.match(machinesOnly.events[0], { type: 'machines', action: 'create', key: created.uuid, object: { name: 'ev1' } });
  t.ok(typeof machinesOnly.events[0]!.time === 'string');
  t.notOk(JSON.stringify(machinesOnly.events[0]).includes('tokenSecret'), 'no token secret in events');
  await all.next(2);
  t.same(all.events.map((e) => e.type), ['profiles', 'machines'], 'unfiltered stream gets every type');
  t.equal(machinesOnly.events.length, 1, 'filtered stream skipped the profile');
});

t.test('events need auth', async (t) => {
  const { api } = await makeHarness(t);
  t.equal((await api('GET', '/api/v1/events', { as: 'none' })).status, 401);
});

t.test('a client that stops reading gets events dropped (and is told), not unbounded buffering', async (t) => {
  const { app, services } = await makeHarness(t);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const chunks: string[] = [];
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(`${base}/api/v1/events?type=bulk`, { headers: { authorization: basic('reader', PASSWORDS.reader) } }, resolve);
    req.on('error', reject);
    req.end();
    t.teardown(() => req.destroy());
  });
  res.pause();
  const big = 'x'.repeat(8192);
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 50; i++) services.bus.publish({ time: new Date().toISOString(), type: 'bulk', action: 'x', key: `${round}-${i}`, object: big });
    await new Promise((r) => setTimeout(r, 5));
  }
  res.setEncoding('utf8');
  res.on('data', (c: string) => chunks.push(c));
  res.resume();
  let settled = false;
  t.teardown(() => {
    settled = true;
  });
  const seen = (needle: string): Promise<void> =>
    eventually(
      `"${needle}" on the stream`,
      new Promise<void>((resolve) => {
        const check = (): void => (chunks.join('').includes(needle) ? resolve() : settled ? undefined : void setTimeout(check, 20));
        check();
      }),
      () => `received ${chunks.join('').length} bytes, ending ${JSON.stringify(chunks.join('').slice(-200))}`,
    );
  await seen('event: dropped');
  services.bus.publish({ time: new Date().toISOString(), type: 'bulk', action: 'last', key: 'last', object: null });
  await seen('"key":"last"');
  const text = chunks.join('');
  const delivered = (text.match(/^event: bulk$/gm) ?? []).length;
  t.ok(delivered < 2001, `only ${delivered} of 2001 events were buffered for the stalled client`);
  t.match(text, /event: dropped\ndata: \{"dropped":\d+\}/, 'the client is told how many it missed');
});
