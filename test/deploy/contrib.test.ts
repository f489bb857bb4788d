/**
 * contrib/relay and contrib/proxy-dnsmasq: the example subnets pass Farrier's own validation and, loaded
 * into the real DHCP server, give the answers their READMEs describe (a relayed DISCOVER gets an address of
 * the rack subnet sent to giaddr with option 82 echoed; a PXE client on the proxy subnet gets boot options
 * and no address; a plain client gets nothing). The packets are handed to the server directly with the
 * interface the examples assume, so no traffic leaves the process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { packageRoot } from '../../src/config.js';
import { LeaseEngine } from '../../src/core/leaseEngine.js';
import { normalizeSubnet } from '../../src/core/subnets.js';
import { optionFromString } from '../../src/dhcp/codec.js';
import { CachedDirectory } from '../../src/dhcp/directoryCache.js';
import { DhcpServer, type ServedInterface } from '../../src/dhcp/server.js';
import { EventBus } from '../../src/events/bus.js';
import type { Subnet } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { seed } from '../dhcp/helpers/harness.js';
import { DISCOVER, OFFER, build, ipBytes, optIp, optText, parse } from '../dhcp/helpers/packets.js';
import { storeDirectory } from '../dhcp/helpers/storeDirectory.js';
import { tempDir } from '../helpers/env.js';

const contrib = join(packageRoot, 'contrib');
const read = (p: string): string => readFileSync(join(contrib, p), 'utf8');
const subnetOf = (p: string) => normalizeSubnet(parseYaml(read(p)) as Record<string, unknown>, undefined);

const DHCP_PORT = 67;
const PXE_MAC = '52:54:00:aa:00:01';

async function serverWith(t: Test, subnets: ReturnType<typeof subnetOf>[]): Promise<DhcpServer> {
  const store = await openSqliteStore(join(tempDir(t, 'fdeploy-dhcp-'), 'farrier.db'));
  t.teardown(() => store.close());
  await seed(store, {
    subnets: subnets as Array<Omit<Subnet, 'createdAt' | 'updatedAt' | 'version'>>,
    bootenvs: [{ name: 'install', kernel: 'vmlinuz', initrds: ['initrd.img'] }],
    machines: [{ uuid: '3f6d2a1e-0000-4000-8000-000000000001', macs: [PXE_MAC], bootenv: 'install' }],
  });
  return new DhcpServer({
    directory: new CachedDirectory(storeDirectory(store), undefined, 0),
    leases: new LeaseEngine(store),
    events: new EventBus(),
    log: pino({ level: 'silent' }),
    counters: new Map(),
    httpPort: 8091,
    ports: { server: DHCP_PORT, client: 68 },
  });
}

t.test('relay example: isc-dhcp-relay settings and the rack subnet', async (t) => {
  const relay = read('relay/isc-dhcp-relay.default');
  const servers = /^SERVERS="([^"]+)"/m.exec(relay)?.[1];
  t.match(servers, /^\d+\.\d+\.\d+\.\d+$/, 'SERVERS names Farrier by address');
  t.match(/^INTERFACES="([^"]+)"/m.exec(relay)?.[1], /\S+ \S+/, 'INTERFACES lists the client side and the uplink');
  t.match(/^OPTIONS="([^"]*)"/m.exec(relay)?.[1], /(^| )-a( |$)/, 'OPTIONS adds option 82 (-a)');

  const rack = subnetOf('relay/subnet-rack.yaml');
  t.equal(rack.proxy, false, 'an address-serving subnet');
  for (const o of rack.options) t.doesNotThrow(() => optionFromString(o.code, o.value), `option ${o.code} "${o.value}" encodes`);
  const giaddr = rack.options.find((o) => o.code === 3)!.value;

  // Farrier sees the relayed packet on its uplink interface, whose address is not in the rack subnet.
  const uplink: ServedInterface = { name: 'eth0', address: servers!, prefix: 24, broadcastTo: '255.255.255.255' };
  const server = await serverWith(t, [rack]);
  const agent = Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x31]); // circuit id "eth1"
  const out = await server.handle(build({ type: DISCOVER, mac: '52:54:00:bb:00:02', giaddr, hops: 1, options: [[82, agent], [55, [1, 3, 6, 15]]] }), uplink, 'dhcp', { address: giaddr, port: DHCP_PORT });
  t.ok(out, 'the relayed DISCOVER is answered');
  const offer = parse(out!.data);
  t.equal(offer.type, OFFER);
  t.same(out!.to, { address: giaddr, port: DHCP_PORT }, 'sent to giaddr on port 67');
  const n = (ip: string): number => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  t.ok(n(offer.yiaddr) >= n(rack.activeStart) && n(offer.yiaddr) <= n(rack.activeEnd), `address ${offer.yiaddr} from the rack pool ${rack.activeStart}-${rack.activeEnd}`);
  t.equal(optIp(offer, 3), giaddr, 'router option from the example');
  t.equal(optIp(offer, 6), '10.0.0.53', 'DNS option from the example');
  t.equal(optText(offer, 15), 'rack.example.internal', 'domain option from the example');
  t.same(offer.opts.get(82), agent, 'option 82 echoed unchanged');
  t.equal(offer.order.at(-1), 82, 'option 82 last');

  const unknownRelay = await server.handle(build({ type: DISCOVER, mac: '52:54:00:bb:00:03', giaddr: '10.99.0.1' }), uplink, 'dhcp', { address: '10.99.0.1', port: DHCP_PORT });
  t.equal(unknownRelay, undefined, 'a relay for a network without a subnet gets no answer');
});

t.test('proxy example: dnsmasq keeps PXE out, Farrier answers PXE clients without addresses', async (t) => {
  const conf = read('proxy-dnsmasq/dnsmasq.conf')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  t.ok(conf.some((l) => l.startsWith('dhcp-range=')), 'dnsmasq hands out addresses');
  for (const forbidden of [/^dhcp-boot=/, /^pxe-/, /^enable-tftp/, /tftp-server|bootfile-name|PXEClient/, /^dhcp-range=.*,proxy/]) {
    t.notOk(conf.some((l) => forbidden.test(l)), `no active ${forbidden.source} line`);
  }

  const proxy = subnetOf('proxy-dnsmasq/subnet-proxy.yaml');
  t.equal(proxy.proxy, true, 'proxy: true');
  const lan: ServedInterface = { name: 'eth0', address: '192.168.10.5', prefix: 24, broadcastTo: '255.255.255.255' };
  const server = await serverWith(t, [proxy]);
  const pxe = build({ type: DISCOVER, mac: PXE_MAC, options: [[60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [97, [0, ...Array(16).fill(7)]]] });
  const out = await server.handle(pxe, lan, 'dhcp', { address: '0.0.0.0', port: 68 });
  t.ok(out, 'a PXE client is answered');
  const offer = parse(out!.data);
  t.equal(offer.type, OFFER);
  t.equal(offer.yiaddr, '0.0.0.0', 'no address: dnsmasq owns them');
  t.equal(offer.siaddr, lan.address, 'siaddr set (iPXE ignores proxy offers without it)');
  t.equal(offer.file, 'undionly.kpxe', 'BIOS loader in BOOTP file');
  t.equal(optText(offer, 60), 'PXEClient');
  t.same(offer.opts.get(43), Buffer.from([6, 1, 8, 255]), 'option 43: no PXE menu');
  t.ok(offer.opts.get(97), 'option 97 echoed');

  const plain = await server.handle(build({ type: DISCOVER, mac: '52:54:00:cc:00:04', options: [[50, ipBytes('192.168.10.150')]] }), lan, 'dhcp', { address: '0.0.0.0', port: 68 });
  t.equal(plain, undefined, 'a non-PXE client gets nothing from Farrier');
});
