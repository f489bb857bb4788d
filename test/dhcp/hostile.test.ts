/**
 * Regressions from the UDP fuzz (test/robustness/dhcpFuzz.test.ts), over loopback UDP with the independent
 * packet builder: relay addresses no relay can have and INFORMs from broadcast addresses get no reply (they
 * would reflect replies onto ourselves or a whole network), a flood beyond the in-flight bound is shed and
 * counted rather than queued, per-packet warnings are rate-limited instead of one log line per packet, and a
 * ciaddr the request was not sent from gets a broadcast reply (no unicast to a host that may not be there).
 */
import { pino } from 'pino';
import t from 'tap';
import { LeaseEngine } from '../../src/core/leaseEngine.js';
import { CachedDirectory } from '../../src/dhcp/directoryCache.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { EventBus } from '../../src/events/bus.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/env.js';
import { Inbox, SERVER_IP, seed, startHarness, udp } from './helpers/harness.js';
import { ACK, build, DECLINE, DISCOVER, INFORM, ipBytes, OFFER, REQUEST } from './helpers/packets.js';
import { storeDirectory, subnet } from './helpers/storeDirectory.js';

const setup = { subnets: [subnet('lan', '127.0.0.0/16', '127.0.1.10', '127.0.1.20'), subnet('relayed', '127.50.0.0/16', '127.50.1.10', '127.50.1.20')] };

t.test('bogus relay addresses and broadcast ciaddr get no reply; a real relay still does', async (t) => {
  const h = await startHarness(t, setup);
  const relay = new Inbox(await udp('127.50.0.1', h.serverPort));
  t.teardown(() => relay.sock.close());
  const ignored = () => h.counters.get('ignored_bogus_giaddr') ?? 0;
  const cases: Array<[string, string]> = [
    [SERVER_IP, "the server's own address"],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'limited broadcast'],
    ['0.1.2.3', '0/8'],
    ['127.50.0.0', "the relayed subnet's network address"],
    ['127.50.255.255', "the relayed subnet's broadcast address"],
  ];
  for (const [giaddr, what] of cases) {
    const before = ignored();
    const d = build({ type: DISCOVER, mac: '52:54:00:66:00:01', giaddr });
    h.send(d, relay.sock);
    for (let i = 0; i < 100 && ignored() === before; i++) await new Promise((r) => setTimeout(r, 20));
    t.equal(ignored(), before + 1, `giaddr ${giaddr} (${what}) ignored and counted`);
  }
  const d = build({ type: DISCOVER, mac: '52:54:00:66:00:02', giaddr: '127.50.0.1' });
  h.send(d, relay.sock);
  t.equal((await relay.next(d.readUInt32BE(4), 30_000))?.p.type, OFFER, 'a real relay address is answered at giaddr');
  t.equal(h.counters.get('out_offer'), 1, 'nothing else was answered');

  const inform = build({ type: INFORM, mac: '52:54:00:66:00:03', ciaddr: '127.0.255.255' });
  t.equal(await h.ask(inform, 1000), undefined, 'INFORM from the broadcast address: no reply');
  t.equal(h.counters.get('ignored_bogus_ciaddr'), 1, 'counted');
  const other = build({ type: INFORM, mac: '52:54:00:66:00:04', ciaddr: '10.1.2.3' });
  t.equal(await h.ask(other, 1000), undefined, 'INFORM from an address outside the subnet: no reply');
  t.equal(h.counters.get('ignored_bogus_ciaddr'), 2, 'counted');
});

t.test('beyond the in-flight bound requests are shed and counted; the server recovers', async (t) => {
  const dir = tempDir(t);
  const store = await openSqliteStore(`${dir}/f.db`);
  t.teardown(() => store.close());
  await seed(store, setup);
  const counters = new Map<string, number>();
  const log = pino({ level: 'silent' });
  const server = new DhcpServer({ directory: new CachedDirectory(storeDirectory(store), undefined, 0), leases: new LeaseEngine(store), events: new EventBus(), log, counters, httpPort: 8091, ports: { server: 67, client: 68 }, maxInFlight: 8 });
  const iface = { name: 'lo', address: SERVER_IP, prefix: 16, broadcastTo: SERVER_IP };
  const from = { address: SERVER_IP, port: 68 };
  const burst = Array.from({ length: 50 }, (_, i) => server.handle(build({ type: DISCOVER, mac: `52:54:00:67:00:${i.toString(16).padStart(2, '0')}` }), iface, 'dhcp', from));
  const replies = (await Promise.all(burst)).filter(Boolean).length;
  t.equal(counters.get('dropped_overload'), 42, '50 at once with a bound of 8: 42 shed');
  t.equal(counters.get('in_discover'), 8, 'and only the 8 admitted counted as handled');
  t.equal(replies, 8, 'the admitted ones answered');
  const later = await server.handle(build({ type: DISCOVER, mac: '52:54:00:67:01:00' }), iface, 'dhcp', from);
  t.ok(later, 'once the backlog cleared, requests are handled again');
});

t.test('per-packet warnings are rate-limited', async (t) => {
  const dir = tempDir(t);
  const store = await openSqliteStore(`${dir}/f.db`);
  t.teardown(() => store.close());
  await seed(store, { subnets: [subnet('tiny', '127.0.0.0/16', '127.0.1.10', '127.0.1.10')] });
  const lines: Array<{ msg: string; suppressed?: number }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; suppressed?: number }) });
  const counters = new Map<string, number>();
  const server = new DhcpServer({ directory: new CachedDirectory(storeDirectory(store), undefined, 0), leases: new LeaseEngine(store), events: new EventBus(), log, counters, httpPort: 8091, ports: { server: 67, client: 68 } });
  const iface = { name: 'lo', address: SERVER_IP, prefix: 16, broadcastTo: SERVER_IP };
  const from = { address: SERVER_IP, port: 68 };
  for (let i = 0; i < 40; i++) await server.handle(build({ type: DISCOVER, mac: `52:54:00:68:00:${i.toString(16).padStart(2, '0')}` }), iface, 'dhcp', from);
  for (let i = 0; i < 40; i++) await server.handle(build({ type: DECLINE, mac: `52:54:00:68:01:${i.toString(16).padStart(2, '0')}`, options: [[50, ipBytes('127.0.1.10')]] }), iface, 'dhcp', from);
  t.equal(counters.get('pool_exhausted'), 39, 'one address, 40 clients: 39 found the pool exhausted');
  t.equal(lines.filter((l) => l.msg.includes('pool exhausted')).length, 1, 'but one warning line');
  t.equal(lines.filter((l) => l.msg.includes('declined')).length, 1, 'and one line for 40 declines');
});

t.test('a request naming a ciaddr it was not sent from is answered by broadcast, not unicast there', async (t) => {
  const h = await startHarness(t, setup);
  const mac = '52:54:00:69:00:01';
  const offer = await h.ask(build({ type: DISCOVER, mac }), 30_000);
  const ack = await h.ask(build({ type: REQUEST, mac, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(offer?.yiaddr ?? '0.0.0.0')]] }), 30_000);
  const addr = ack?.yiaddr ?? '0.0.0.0';
  const atClient = new Inbox(await udp(addr, h.clientPort));
  t.teardown(() => atClient.sock.close());
  const renew = build({ type: REQUEST, mac, ciaddr: addr });
  h.send(renew); // from 127.0.0.1, not from the lease's address
  const got = await h.client.next(renew.readUInt32BE(4), 30_000);
  t.equal(got?.p.type, ACK, 'ACKed, by broadcast (to the harness client)');
  t.equal(await atClient.next(renew.readUInt32BE(4), 500), undefined, 'nothing unicast to the claimed address');
  const fromLease = build({ type: REQUEST, mac, ciaddr: addr });
  h.send(fromLease, atClient.sock);
  t.equal((await atClient.next(fromLease.readUInt32BE(4), 30_000))?.p.type, ACK, 'sent from its address: unicast there, as RFC 2131 says');
});
