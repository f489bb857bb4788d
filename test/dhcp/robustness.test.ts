/**
 * Robustness: 100k+ random and mutated datagrams (truncations, bit flips, bad lengths, huge options, Pad runs)
 * through the server's packet handler — the exact path the sockets use — plus a burst over real UDP. Nothing
 * may throw or reject, the drop counters must rise, and a valid DORA must still succeed afterwards.
 */
import t from 'tap';
import { prng } from '../helpers/prng.js';
import { Inbox, SERVER_IP, startHarness, udp } from './helpers/harness.js';
import { ACK, build, DISCOVER, ipBytes, OFFER, REQUEST } from './helpers/packets.js';
import { subnet } from './helpers/storeDirectory.js';


const seeds = (): Buffer[] => [
  build({ type: DISCOVER, mac: '52:54:00:12:34:56', options: [[55, [1, 3, 6, 43, 50, 60, 66, 67, 97, 128]], [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]], [97, Buffer.alloc(17, 1)], [77, 'iPXE'], [61, [1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]]] }),
  build({ type: REQUEST, mac: '52:54:00:12:34:57', options: [[54, ipBytes(SERVER_IP)], [50, ipBytes('127.0.1.10')], [82, [1, 2, 3, 4]]] }),
  build({ type: REQUEST, mac: '52:54:00:12:34:58', ciaddr: '127.0.1.11' }),
];

function mutate(rnd: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (Math.floor(rnd() * 7)) {
    case 0:
      return b.subarray(0, Math.floor(rnd() * b.length));
    case 1: {
      const n = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < n; i++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
      return b;
    }
    case 2: {
      // a bad option length somewhere in the options area
      const at = 240 + Math.floor(rnd() * (b.length - 241));
      b[at] = Math.floor(rnd() * 256);
      return b;
    }
    case 3: {
      // a huge option (claims 255 bytes, maybe fewer present)
      const opt = Buffer.concat([Buffer.from([Math.floor(rnd() * 254) + 1, 255]), Buffer.alloc(Math.floor(rnd() * 300), 0x41)]);
      return Buffer.concat([b.subarray(0, 240 + 3), opt, b.subarray(243)]);
    }
    case 4: {
      // runs of Pad between options
      const pads = Buffer.alloc(Math.floor(rnd() * 600), 0);
      return Buffer.concat([b.subarray(0, 243), pads, b.subarray(243)]);
    }
    case 5:
      return Buffer.from(Array.from({ length: Math.floor(rnd() * 700) }, () => Math.floor(rnd() * 256)));
    default: {
      // valid header, random option bytes
      const tail = Buffer.from(Array.from({ length: Math.floor(rnd() * 400) }, () => Math.floor(rnd() * 256)));
      return Buffer.concat([b.subarray(0, 240), tail]);
    }
  }
}

t.test('100k random and mutated packets: no crash, counted, DORA still works', async (t) => {
  // The final DORA goes through a relay subnet the mutated packets (giaddr 0) do not reach, so the flood
  // exhausting the main pool cannot make it fail.
  const h = await startHarness(t, {
    subnets: [subnet('lan', '127.0.0.0/16', '127.0.1.10', '127.0.1.250'), subnet('check', '127.70.0.0/16', '127.70.1.10', '127.70.1.20')],
  });
  const rnd = prng(20261125);
  const base = seeds();
  const iface = { name: 'lo', address: SERVER_IP, prefix: 8, broadcastTo: SERVER_IP };
  const from = { address: SERVER_IP, port: h.clientPort };
  const N = 100_000;
  let replies = 0;
  for (let i = 0; i < N; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = 0; j < 500; j++) {
      const pkt = mutate(rnd, base[(i + j) % base.length]);
      batch.push(h.server.handle(pkt, iface, (i + j) % 10 === 0 ? 'proxy' : 'dhcp', from).then((out) => (replies += out ? 1 : 0)));
    }
    await Promise.all(batch);
  }
  const dropped = h.counters.get('dropped_malformed') ?? 0;
  t.ok(dropped > 10_000, `malformed packets counted (${dropped})`);
  t.equal(h.counters.get('errors') ?? 0, 0, 'no internal errors');
  t.ok(replies > 0, `mutated-but-valid packets still answered (${replies})`);

  // and over the real socket; then wait until the server has worked through them
  for (let i = 0; i < 5000; i++) h.send(mutate(rnd, base[i % base.length]));
  const seen = () => [...h.counters.values()].reduce((a, b) => a + b, 0);
  for (let last = -1; last !== seen(); ) {
    last = seen();
    await new Promise((r) => setTimeout(r, 300));
  }
  t.ok((h.counters.get('dropped_malformed') ?? 0) > dropped, 'socket path counts drops too');

  const relay = new Inbox(await udp('127.70.0.1', h.serverPort));
  t.teardown(() => relay.sock.close());
  const mac = '52:54:00:fe:fe:01';
  const d = build({ type: DISCOVER, mac, giaddr: '127.70.0.1' });
  h.send(d, relay.sock);
  const offer = (await relay.next(d.readUInt32BE(4), 30_000))?.p;
  t.equal(offer?.type, OFFER, 'valid DISCOVER answered afterwards');
  const r = build({ type: REQUEST, mac, giaddr: '127.70.0.1', options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(offer?.yiaddr ?? '0.0.0.0')]] });
  h.send(r, relay.sock);
  const ack = (await relay.next(r.readUInt32BE(4), 30_000))?.p;
  t.equal(ack?.type, ACK, 'valid REQUEST ACKed afterwards');
});
