import t from 'tap';
import { intToIp, ipToInt, normalizeMac, parseCidr } from '../../src/core/validate.js';

t.test('MAC spellings', async (t) => {
  for (const s of ['aa:bb:cc:dd:ee:ff', 'AA:BB:CC:DD:EE:FF', 'aa-bb-cc-dd-ee-ff', 'AABB.CCDD.EEFF', 'aabbccddeeff', ' aabbccddeeff ']) {
    t.equal(normalizeMac(s), 'aa:bb:cc:dd:ee:ff', s);
  }
  for (const s of ['aa:bb:cc:dd:ee', 'aa:bb-cc:dd:ee:ff', 'gg:bb:cc:dd:ee:ff', 'aabbccddeeff00', '', 'aabb.ccdd.eef']) t.equal(normalizeMac(s), undefined, `rejects ${JSON.stringify(s)}`);
});

t.test('IPv4 and CIDR', async (t) => {
  t.equal(ipToInt('10.0.0.1'), 0x0a000001);
  t.equal(ipToInt('255.255.255.255'), 0xffffffff);
  for (const s of ['256.0.0.1', '10.0.0', '10.0.0.01', 'a.b.c.d', '10.0.0.1 ']) t.equal(ipToInt(s), undefined, `rejects ${s}`);
  t.equal(intToIp(0xc0a80101), '192.168.1.1');
  t.same(parseCidr('10.1.0.0/16'), { network: 0x0a010000, prefix: 16, first: 0x0a010000, last: 0x0a01ffff });
  t.equal(parseCidr('10.1.0.1/16'), undefined, 'host bits set');
  t.equal(parseCidr('10.1.0.0/33'), undefined);
  t.equal(parseCidr('10.1.0.0'), undefined);
  t.match(parseCidr('0.0.0.0/0'), { first: 0, last: 0xffffffff });
});
