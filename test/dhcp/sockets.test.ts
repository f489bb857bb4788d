/** Socket layer: a second daemon on the same data dir or port fails loudly instead of sharing the traffic. */
import { pino } from 'pino';
import t from 'tap';
import { LeaseEngine } from '../../src/core/leaseEngine.js';
import { CachedDirectory } from '../../src/dhcp/directoryCache.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { startDhcpSockets } from '../../src/dhcp/sockets.js';
import { EventBus } from '../../src/events/bus.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/env.js';
import { randomPort, SERVER_IP } from './helpers/harness.js';
import { storeDirectory } from './helpers/storeDirectory.js';

t.test('lock file and exclusive bind', async (t) => {
  const dir = tempDir(t);
  const store = await openSqliteStore(`${dir}/f.db`);
  t.teardown(() => store.close());
  const log = pino({ level: 'silent' });
  const counters = new Map<string, number>();
  const port = randomPort();
  const server = new DhcpServer({ directory: new CachedDirectory(storeDirectory(store), undefined, 0), leases: new LeaseEngine(store), events: new EventBus(), log, counters, httpPort: 8091, ports: { server: port, client: 68 } });
  const iface = { name: 'lo', address: SERVER_IP, prefix: 8, broadcastTo: SERVER_IP };
  const opts = { server, log, counters, port, proxyPort: null, interfaces: [], explicit: { bindAddress: SERVER_IP, iface } };
  const first = await startDhcpSockets({ ...opts, lockDir: dir });
  t.teardown(() => first.close());
  await t.rejects(startDhcpSockets({ ...opts, port: randomPort(), lockDir: dir }), { code: 'CONFLICT', message: /another Farrier \(pid \d+\)/ }, 'second daemon on the same data dir refused');
  await t.rejects(startDhcpSockets({ ...opts, lockDir: tempDir(t) }), { code: 'UNAVAILABLE', message: /cannot bind UDP/ }, 'second bind of the same address:port refused (no reuseAddr in explicit mode)');
  await first.close();
  const again = await startDhcpSockets({ ...opts, lockDir: dir });
  t.ok(again, 'lock released on close');
  await again.close();
});

t.test('a named interface that does not exist yet is waited for, and the log says which and why', async (t) => {
  const store = await openSqliteStore(`${tempDir(t)}/f.db`);
  t.teardown(() => store.close());
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const counters = new Map<string, number>();
  const server = new DhcpServer({ directory: new CachedDirectory(storeDirectory(store), undefined, 0), leases: new LeaseEngine(store), events: new EventBus(), log, counters, httpPort: 8091, ports: { server: 67, client: 68 } });
  const sockets = await startDhcpSockets({ server, log, counters, port: randomPort(), proxyPort: null, interfaces: ['nosuch0'], rescanMs: 20 });
  t.teardown(() => sockets.close());
  t.same(sockets.interfaces(), [], 'nothing served yet');
  await new Promise((r) => setTimeout(r, 200));
  const waiting = lines.filter((l) => l.msg.includes('waiting for nosuch0 (not found)'));
  t.equal(waiting.length, 1, 'one warning naming the interface and the reason, not one per rescan');
  t.equal(waiting[0]?.level, 40, 'at warn level');
});
