/**
 * The DHCP server over loopback UDP, driven by an independent packet builder (helpers/packets.ts):
 * DORA, renew/rebind, NAKs, release/decline/inform, other server's id, relays, pool exhaustion, events.
 */
import t from 'tap';
import type { Lease } from '../../src/model/types.js';
import { SERVER_IP, settle, startHarness, udp, Inbox, type Harness } from './helpers/harness.js';
import { ACK, build, DECLINE, DISCOVER, INFORM, ipBytes, NAK, OFFER, optIp, optText, optU32, RELEASE, REQUEST } from './helpers/packets.js';
import { subnet } from './helpers/storeDirectory.js';

const setup = {
  subnets: [
    subnet('lan', '127.0.0.0/16', '127.0.1.10', '127.0.1.20', {
      options: [
        { code: 3, value: '127.0.0.1' },
        { code: 6, value: '127.0.0.53, 127.0.0.54' },
        { code: 15, value: 'lab-{{opt60}}.example' },
      ],
    }),
    subnet('relayed', '127.50.0.0/16', '127.50.1.10', '127.50.1.12'),
    subnet('tiny', '127.60.0.0/16', '127.60.1.10', '127.60.1.11'),
  ],
  reservations: [
    { address: '127.0.1.99', mac: '52:54:00:00:00:99', options: [{ code: 15, value: 'reserved.example' }], nextServer: null, description: '' },
  ],
};

let mac = 0x10;
const nextMac = (): string => `52:54:00:aa:00:${(mac++).toString(16).padStart(2, '0')}`;

async function dora(h: Harness, m: string, extra: Array<[number, Buffer | number[] | string]> = []) {
  const offer = await h.ask(build({ type: DISCOVER, mac: m, options: [[55, [1, 3, 6, 15, 51, 54]], ...extra] }));
  if (!offer) throw new Error('no OFFER');
  const ack = await h.ask(build({ type: REQUEST, mac: m, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(offer.yiaddr)], [55, [1, 3, 6, 15]]] }));
  if (!ack) throw new Error('no ACK');
  return { offer, ack };
}

t.test('golden DORA: offer, then ACK of the same address, lease bound in the store', async (t) => {
  const h = await startHarness(t, setup);
  const m = nextMac();
  const offer = await h.ask(build({ type: DISCOVER, mac: m, options: [[55, [15, 6, 3, 1, 51, 54, 28]], [60, 'foo']] }));
  t.ok(offer, 'OFFER received on the client port');
  if (!offer) return;
  t.equal(offer.type, OFFER);
  t.equal(offer.op, 2);
  t.equal(offer.mac, m);
  t.equal(offer.yiaddr, '127.0.1.10', 'first pool address');
  t.ok(offer.length >= 300, `reply is at least 300 bytes (${offer.length})`);
  t.same(offer.order.slice(0, 2), [53, 54], '53 and 54 first');
  t.same(offer.order.slice(2, 8), [15, 6, 3, 1, 51, 28], 'requested options in the PRL order');
  t.equal(optIp(offer, 54), SERVER_IP);
  t.equal(optU32(offer, 51), 3600);
  t.equal(optU32(offer, 58), 1800);
  t.equal(optU32(offer, 59), 3150);
  t.equal(optIp(offer, 1), '255.255.0.0');
  t.equal(optIp(offer, 28), '127.0.255.255');
  t.equal(optIp(offer, 3), '127.0.0.1');
  t.same([...(offer.opts.get(6) ?? [])], [127, 0, 0, 53, 127, 0, 0, 54]);
  t.equal(optText(offer, 15), 'lab-foo.example', 'option value rendered as a template over the request');
  const held = await h.store.getLease('127.0.1.10');
  t.equal(held?.state, 'offered', 'offer held in the store');

  const ack = await h.ask(build({ type: REQUEST, mac: m, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(offer.yiaddr)]] }));
  t.equal(ack?.type, ACK);
  t.equal(ack?.yiaddr, '127.0.1.10');
  const lease = await h.store.getLease('127.0.1.10');
  t.equal(lease?.state, 'bound');
  t.equal(lease?.mac, m);
  t.ok(Date.parse(lease?.expiresAt ?? '') > Date.now() + 3500_000, 'bound for the lease time');

  const again = await h.ask(build({ type: DISCOVER, mac: m }));
  t.equal(again?.yiaddr, '127.0.1.10', 'the same MAC is offered its lease again');
  const other = await h.ask(build({ type: DISCOVER, mac: nextMac() }));
  t.equal(other?.yiaddr, '127.0.1.11', 'another MAC gets the next free address');
  t.equal(h.counters.get('in_discover'), 3);
  t.equal(h.counters.get('out_offer'), 3);
  t.equal(h.counters.get('out_ack'), 1);
});

t.test('DISCOVER with option 50 gets the requested address when it is free', async (t) => {
  const h = await startHarness(t, setup);
  const offer = await h.ask(build({ type: DISCOVER, mac: nextMac(), options: [[50, ipBytes('127.0.1.15')]] }));
  t.equal(offer?.yiaddr, '127.0.1.15');
  const outside = await h.ask(build({ type: DISCOVER, mac: nextMac(), options: [[50, ipBytes('127.0.9.9')]] }));
  t.equal(outside?.yiaddr, '127.0.1.10', 'an address outside the pool is not honoured');
});

t.test('renew (unicast to ciaddr) and rebind extend the lease', async (t) => {
  const h = await startHarness(t, setup);
  const m = nextMac();
  const { ack } = await dora(h, m);
  const addr = ack.yiaddr;
  const atClient = new Inbox(await udp(addr, h.clientPort));
  t.teardown(() => atClient.sock.close());
  const before = (await h.store.getLease(addr)) as Lease;
  await new Promise((r) => setTimeout(r, 20));
  const renew = build({ type: REQUEST, mac: m, ciaddr: addr });
  h.send(renew, atClient.sock);
  const got = await atClient.next(renew.readUInt32BE(4));
  t.equal(got?.p.type, ACK, 'renew ACKed');
  t.equal(got?.p.yiaddr, addr);
  t.equal(got?.p.ciaddr, addr);
  const after = (await h.store.getLease(addr)) as Lease;
  t.ok(Date.parse(after.expiresAt) > Date.parse(before.expiresAt), 'expiry moved forward');

  const rebind = build({ type: REQUEST, mac: m, ciaddr: addr, flags: 0x8000 });
  h.send(rebind, atClient.sock);
  const rb = await atClient.next(rebind.readUInt32BE(4));
  t.equal(rb?.p.type, ACK, 'rebind ACKed');
});

t.test('NAK cases', async (t) => {
  const h = await startHarness(t, setup);
  const a = nextMac();
  const b = nextMac();
  const { ack } = await dora(h, a);

  const wrongNet = await h.ask(build({ type: REQUEST, mac: b, options: [[50, ipBytes('10.9.9.9')]] }));
  t.equal(wrongNet?.type, NAK, 'INIT-REBOOT on the wrong network is NAKed');
  t.equal(wrongNet?.yiaddr, '0.0.0.0');
  t.equal(optIp(wrongNet!, 54), SERVER_IP);

  const theirs = await h.ask(build({ type: REQUEST, mac: b, options: [[50, ipBytes(ack.yiaddr)]] }));
  t.equal(theirs?.type, NAK, "INIT-REBOOT for another client's address is NAKed");

  const selectTaken = await h.ask(build({ type: REQUEST, mac: b, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(ack.yiaddr)]] }));
  t.equal(selectTaken?.type, NAK, "SELECTING another client's address is NAKed");

  const renewTaken = await h.ask(build({ type: REQUEST, mac: b, ciaddr: ack.yiaddr }));
  t.equal(renewTaken?.type, NAK, "renewing another client's address is NAKed (broadcast: ciaddr is not the client's)");

  const unknown = await h.ask(build({ type: REQUEST, mac: b, options: [[50, ipBytes('127.0.1.19')]] }), 400);
  t.equal(unknown, undefined, 'INIT-REBOOT for an address we have no record of: silent');
  t.equal((await h.store.getLease(ack.yiaddr))?.mac, a, 'the first client keeps its lease');
});

t.test("REQUEST carrying another server's id: silent, and our offer is freed", async (t) => {
  const h = await startHarness(t, setup);
  const m = nextMac();
  const offer = await h.ask(build({ type: DISCOVER, mac: m }));
  t.ok(offer);
  const reply = await h.ask(build({ type: REQUEST, mac: m, options: [[54, ipBytes('127.9.9.9')], [50, ipBytes(offer!.yiaddr)]] }), 400);
  t.equal(reply, undefined, 'no reply');
  t.equal(await h.store.getLeaseByMac(m), undefined, 'offer hold removed');
  t.equal(h.counters.get('ignored_other_server'), 1);
});

t.test('RELEASE, DECLINE and INFORM', async (t) => {
  const h = await startHarness(t, setup);
  const a = nextMac();
  const { ack } = await dora(h, a);
  h.send(build({ type: RELEASE, mac: a, ciaddr: ack.yiaddr, options: [[54, ipBytes(SERVER_IP)]] }));
  t.equal(await settle(async () => (await h.store.getLease(ack.yiaddr))?.state, 'released'), 'released', 'released');

  const b = nextMac();
  const { ack: ackB } = await dora(h, b);
  h.send(build({ type: DECLINE, mac: b, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(ackB.yiaddr)]] }));
  t.equal(await settle(async () => (await h.store.getLease(ackB.yiaddr))?.state, 'declined'), 'declined', 'declined');
  const retry = await h.ask(build({ type: DISCOVER, mac: b }));
  t.not(retry?.yiaddr, ackB.yiaddr, 'the decliner is offered a different address');
  const ackRetry = await h.ask(build({ type: REQUEST, mac: b, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(retry!.yiaddr)]] }));
  t.equal(ackRetry?.type, ACK);
  t.equal((await h.store.getLease(ackB.yiaddr))?.state, 'declined', 'the declined address stays quarantined after the client moves on');
  const third = await h.ask(build({ type: DISCOVER, mac: nextMac(), options: [[50, ipBytes(ackB.yiaddr)]] }));
  t.not(third?.yiaddr, ackB.yiaddr, 'nobody else gets the quarantined address');

  const c = nextMac();
  const { ack: ackC } = await dora(h, c);
  const atClient = new Inbox(await udp(ackC.yiaddr, h.clientPort));
  t.teardown(() => atClient.sock.close());
  const inform = build({ type: INFORM, mac: c, ciaddr: ackC.yiaddr, options: [[55, [1, 3, 6]]] });
  h.send(inform, atClient.sock);
  const inf = await atClient.next(inform.readUInt32BE(4));
  t.equal(inf?.p.type, ACK, 'INFORM answered with an ACK unicast to ciaddr');
  t.equal(inf?.p.yiaddr, '0.0.0.0', 'no address assigned');
  t.notOk(inf?.p.opts.has(51), 'no lease time');
  t.equal(optIp(inf!.p, 3), '127.0.0.1', 'configuration options present');
});

t.test('relay: subnet by giaddr, reply to giaddr on the server port, option 82 echoed', async (t) => {
  const h = await startHarness(t, setup);
  const relay = new Inbox(await udp('127.50.0.1', h.serverPort));
  t.teardown(() => relay.sock.close());
  const agent = Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x30, 2, 3, 9, 8, 7]);
  const m = nextMac();
  const disc = build({ type: DISCOVER, mac: m, giaddr: '127.50.0.1', hops: 1, options: [[82, agent], [55, [1, 3]]] });
  h.send(disc, relay.sock);
  const got = await relay.next(disc.readUInt32BE(4));
  t.ok(got, 'OFFER delivered to giaddr:server-port');
  t.equal(got?.p.yiaddr, '127.50.1.10', 'address from the relayed subnet');
  t.equal(got?.p.giaddr, '127.50.0.1');
  t.same(got?.p.opts.get(82), agent, 'option 82 echoed unchanged');
  t.equal(got?.p.order.at(-1), 82, 'option 82 last');
  const req = build({ type: REQUEST, mac: m, giaddr: '127.50.0.1', options: [[82, agent], [54, ipBytes(SERVER_IP)], [50, ipBytes('127.50.1.10')]] });
  h.send(req, relay.sock);
  const ack = await relay.next(req.readUInt32BE(4));
  t.equal(ack?.p.type, ACK);
  t.equal(optIp(ack!.p, 1), '255.255.0.0', 'mask of the relayed subnet');
});

t.test('reservation: fixed address and its options override the subnet', async (t) => {
  const h = await startHarness(t, setup);
  const { offer, ack } = await dora(h, '52:54:00:00:00:99');
  t.equal(offer.yiaddr, '127.0.1.99', 'reserved address offered (outside the pool)');
  t.equal(ack.yiaddr, '127.0.1.99');
  t.equal(optText(ack, 15), 'reserved.example');
  t.equal(optU32(ack, 51), 7200, 'reserved lease time');
});

t.test('pool exhaustion: no reply, a counter, and the server keeps answering', async (t) => {
  const h = await startHarness(t, setup);
  const relay = new Inbox(await udp('127.60.0.1', h.serverPort));
  t.teardown(() => relay.sock.close());
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const d = build({ type: DISCOVER, mac: nextMac(), giaddr: '127.60.0.1' });
    h.send(d, relay.sock);
    const r = await relay.next(d.readUInt32BE(4), i < 2 ? 5000 : 500);
    if (r) got.push(r.p.yiaddr);
  }
  t.same(got, ['127.60.1.10', '127.60.1.11'], 'two addresses, then nothing');
  t.equal(h.counters.get('pool_exhausted'), 1);
  const { ack } = await dora(h, nextMac());
  t.equal(ack.type, ACK, 'a DORA on another subnet still succeeds');
});

t.test('no subnet covers the client: silent', async (t) => {
  const h = await startHarness(t, { subnets: [subnet('elsewhere', '10.1.0.0/16', '10.1.0.10', '10.1.0.20')] });
  const r = await h.ask(build({ type: DISCOVER, mac: nextMac() }), 400);
  t.equal(r, undefined);
  t.equal(h.counters.get('ignored_no_subnet'), 1);
});

t.test('a bound lease updates the machine address and a dhcp event is published', async (t) => {
  const m = '52:54:00:bb:00:01';
  const h = await startHarness(t, {
    ...setup,
    machines: [
      { uuid: '11111111-1111-4111-8111-111111111111', macs: [m], bootenv: 'local' },
      { uuid: '22222222-2222-4222-8222-222222222222', macs: ['52:54:00:bb:00:02'], address: '127.0.1.10', bootenv: 'local' },
    ],
    bootenvs: [{ name: 'local', netboot: false }],
  });
  const { ack } = await dora(h, m);
  t.equal(ack.yiaddr, '127.0.1.10');
  const m1addr = await settle(async () => (await h.store.get<{ address: string | null }>('machines', '11111111-1111-4111-8111-111111111111'))?.address, '127.0.1.10');
  t.equal(m1addr, '127.0.1.10', 'machine address recorded');
  const m2 = await h.store.get<{ address: string | null }>('machines', '22222222-2222-4222-8222-222222222222');
  t.equal(m2?.address, null, 'the stale holder of that address no longer claims it');
  t.ok(h.events.some((e) => e.type === 'dhcp' && e.key === '11111111-1111-4111-8111-111111111111'), 'dhcp event for the known machine');
});
