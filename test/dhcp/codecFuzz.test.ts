/**
 * The codec against the independent oracle (helpers/fuzz.ts) on 300k generated datagrams, in-process: a
 * datagram is rejected by decode (or is not a DHCP request) exactly when the oracle says it is malformed, and
 * nothing else ever throws. Plus the regressions the UDP fuzz (test/robustness/dhcpFuzz.test.ts) found.
 */
import t from 'tap';
import { decode, encode, type ReplyPacket } from '../../src/dhcp/codec.js';
import { requestFacts } from '../../src/dhcp/facts.js';
import { expectMalformed, PacketFuzzer } from './helpers/fuzz.js';
import { build, DISCOVER, parse, REQUEST } from './helpers/packets.js';

const net = {
  server: '10.77.0.1',
  network: '10.77.0.0',
  broadcast: '10.77.255.255',
  poolSample: (n: number) => `10.77.${1 + (n >> 8) % 250}.${n & 255}`,
  relay: '10.78.0.1',
  macs: 4096,
};

/** What the server does first with a datagram: decode, read its facts, keep only requests of types 1–8. */
function accepted(buf: Buffer): boolean {
  try {
    const p = decode(buf);
    const f = requestFacts(p);
    return p.op === 1 && f.type >= 1 && f.type <= 8;
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    return false;
  }
}

t.test('decode agrees with the oracle on 300k fuzzed datagrams', async (t) => {
  const fuzz = new PacketFuzzer(6_2026, net);
  const disagreements: string[] = [];
  const kinds = new Map<string, { sent: number; malformed: number }>();
  for (let i = 0; i < 300_000; i++) {
    const { kind, data } = fuzz.next();
    const malformed = expectMalformed(data);
    const k = kinds.get(kind) ?? { sent: 0, malformed: 0 };
    k.sent++;
    if (malformed) k.malformed++;
    kinds.set(kind, k);
    if (accepted(data) === malformed && disagreements.length < 5) disagreements.push(`${kind} #${i} oracle=${malformed ? 'malformed' : 'valid'}: ${data.toString('hex')}`);
  }
  t.same(disagreements, [], 'no datagram judged differently');
  t.comment(JSON.stringify(Object.fromEntries(kinds)));
});

t.test('option overload: options in file and sname are read, and those fields then name nothing', async (t) => {
  const b = build({ type: REQUEST, mac: '52:54:00:00:00:01', options: [[52, [3]]] });
  Buffer.from([12, 4, ...Buffer.from('host'), 60, 9, ...Buffer.from('PXEClient'), 255]).copy(b, 108);
  Buffer.from([55, 3, 1, 3, 67, 255]).copy(b, 44);
  const p = decode(b);
  t.equal(p.options[12], 'host', 'hostname from file');
  t.equal(p.options[60], 'PXEClient', 'vendor class from file');
  t.same(requestFacts(p).prl, [1, 3, 67], 'parameter list from sname');
  t.equal(p.file, '', 'file is not a boot file name when it carries options');
  t.equal(p.sname, '', 'sname likewise');

  const fileOnly = build({ type: DISCOVER, mac: '52:54:00:00:00:02', options: [[52, [1]]] });
  Buffer.from('server-name').copy(fileOnly, 44);
  Buffer.from([12, 2, 0x61, 0x62, 255]).copy(fileOnly, 108);
  t.equal(decode(fileOnly).sname, 'server-name', 'overload 1 leaves sname a name');
  Buffer.from([12, 200]).copy(fileOnly, 108);
  t.throws(() => decode(fileOnly), /overruns/, 'an option overrunning the file field is malformed');
  t.throws(() => decode(build({ type: DISCOVER, mac: '52:54:00:00:00:03', options: [[52, [4]]] })), /overload/, 'overload values other than 1–3 are malformed');
});

t.test('long options: split instances are joined on decode (RFC 3396) and split again when echoed', async (t) => {
  const first = Buffer.alloc(255, 0xaa);
  const second = Buffer.alloc(45, 0xbb);
  const p = decode(build({ type: DISCOVER, mac: '52:54:00:00:00:04', giaddr: '10.78.0.1', options: [[82, first], [55, [1, 3]], [82, second]] }));
  t.same(p.options[82], Buffer.concat([first, second]), 'option 82 is both parts in order');
  const reply: ReplyPacket = { ...p, op: 2, options: [[53, 2], [82, p.options[82] as Buffer]] };
  const wire = encode(reply);
  const echoed = parse(wire);
  t.equal(echoed.type, 2, 'the reply still parses');
  const at = wire.indexOf(Buffer.from([82, 255]), 240);
  t.ok(at > 0, 'first part: 255 bytes');
  t.same(wire.subarray(at + 2 + 255, at + 2 + 255 + 2), Buffer.from([82, 45]), 'second part follows with the remaining 45');
  t.same(Buffer.concat([wire.subarray(at + 2, at + 257), wire.subarray(at + 259, at + 304)]), Buffer.concat([first, second]), 'bytes unchanged');
});

t.test('typed options must have a length their type allows', async (t) => {
  const d = (extra: Array<[number, number[]]>) => () => decode(build({ type: DISCOVER, mac: '52:54:00:00:00:05', options: extra }));
  t.throws(d([[50, [10, 77, 1]]]), /option 50/, 'requested address of 3 bytes');
  t.throws(d([[50, [10, 77, 1, 2, 3]]]), /option 50/, 'requested address of 5 bytes');
  t.throws(d([[51, [0, 1]]]), /option 51/, 'lease time of 2 bytes');
  t.throws(d([[93, [0]]]), /option 93/, 'odd-length architecture list');
  t.doesNotThrow(d([[93, [0, 7, 0, 9]], [12, []], [43, []]]), 'two architectures, empty text and raw options are fine');
  t.throws(() => decode(Buffer.concat([build({ type: DISCOVER, mac: '52:54:00:00:00:06' }).subarray(0, 243), Buffer.from([53, 1, 3, 255])])), /option 53/, 'two message types (joined: 2 bytes) are malformed');
});
