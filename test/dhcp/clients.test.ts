/**
 * Real DHCP clients against Farrier in network namespaces this test creates:
 *   client ns A (cliA) <-veth-> server ns (srvA 10.91.0.1/24, srvB 10.92.0.1/24) <-veth-> client ns B (cliB)
 * The server runs as its own process in the server namespace, serving both interfaces (per-interface sockets
 * pinned with SO_BINDTOIFINDEX), so each client must get an address from its own interface's subnet.
 * dhclient (private -sf/-pf/-lf files), busybox udhcpc (plain and posing as a UEFI PXE client) and
 * `perfdhcp -l` (which acts as a relay). Skips without root/tools; fails under CI=true.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { requireNetns, requireTool, tempDir } from '../helpers/env.js';
import { createNetns, createVethPair, listening, waitFor } from '../e2e/lib/netns.js';
import { subnet } from './helpers/storeDirectory.js';

const launcher = fileURLToPath(new URL('./fixtures/launcher.ts', import.meta.url));
const PXE_MAC = '52:54:00:91:00:07';

t.test('dhclient, udhcpc (plain and PXE) and perfdhcp get correct addresses and options', async (t) => {
  if (!requireNetns(t)) return;
  for (const tool of ['dhclient', 'udhcpc', 'perfdhcp']) if (!requireTool(t, tool)) return;
  const dir = tempDir(t, 'farrier-dhcp-clients-');
  const srv = await createNetns(t, 'fdhcp-srv');
  const cliA = await createNetns(t, 'fdhcp-a');
  const cliB = await createNetns(t, 'fdhcp-b');
  await createVethPair({ ns: srv, ifname: 'srvA', address: '10.91.0.1/24' }, { ns: cliA, ifname: 'cliA' });
  await createVethPair({ ns: srv, ifname: 'srvB', address: '10.92.0.1/24' }, { ns: cliB, ifname: 'cliB' });
  await cliB.ip('link', 'set', 'cliB', 'address', PXE_MAC);

  const config = {
    dataDir: dir,
    port: 67,
    clientPort: 68,
    proxyPort: 4011,
    interfaces: ['srvA', 'srvB'],
    seed: {
      subnets: [
        subnet('net-a', '10.91.0.0/24', '10.91.0.100', '10.91.0.150', { options: [{ code: 3, value: '10.91.0.1' }, { code: 6, value: '10.91.0.53' }] }),
        subnet('net-b', '10.92.0.0/24', '10.92.0.100', '10.92.0.150', { options: [{ code: 3, value: '10.92.0.1' }] }),
      ],
      machines: [{ uuid: '91919191-0000-4000-8000-000000000007', macs: [PXE_MAC], bootenv: 'debian-12' }],
      bootenvs: [{ name: 'debian-12' }],
    },
  };
  const server = srv.spawn(process.execPath, [...process.execArgv, launcher, JSON.stringify(config)], { logFile: join(dir, 'server.log') });
  await waitFor(() => listening(srv, 'udp', 67), 20_000, 'Farrier DHCP on :67');
  t.teardown(() => server.stop());

  // dhclient on A: private hook script that records what it was given.
  const dhScript = join(dir, 'dhclient-script');
  writeFileSync(
    dhScript,
    `#!/bin/sh
case "$reason" in
  PREINIT) ip link set "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT) ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
    echo "ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers dns=$new_domain_name_servers lease=$new_dhcp_lease_time" >> ${dir}/dhclient.out ;;
esac
exit 0
`,
  );
  chmodSync(dhScript, 0o755);
  const dhArgs = ['-4', '-sf', dhScript, '-pf', join(dir, 'dhclient.pid'), '-lf', join(dir, 'dhclient.leases')];
  await cliA.exec('dhclient', [...dhArgs, '-1', '-v', 'cliA'], { timeoutMs: 40_000 });
  const dh = readFileSync(join(dir, 'dhclient.out'), 'utf8');
  t.match(dh, /ip=10\.91\.0\.1\d\d mask=255\.255\.255\.0 routers=10\.91\.0\.1 dns=10\.91\.0\.53 lease=3600/, `dhclient lease on A: ${dh.trim()}`);
  const dhIp = /ip=(\S+)/.exec(dh)?.[1] ?? '';
  await cliA.exec('dhclient', [...dhArgs, '-r', '-v', 'cliA'], { timeoutMs: 20_000 });

  // udhcpc on B, plain, then posing as a UEFI PXE client (arch 7).
  const udScript = join(dir, 'udhcpc-script');
  writeFileSync(
    udScript,
    `#!/bin/sh
case "$1" in
  bound|renew) echo "ip=$ip mask=$mask router=$router siaddr=$siaddr boot_file=$boot_file lease=$lease" >> ${dir}/udhcpc.out ;;
esac
exit 0
`,
  );
  chmodSync(udScript, 0o755);
  await cliB.exec('udhcpc', ['-i', 'cliB', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', udScript], { timeoutMs: 30_000 });
  await cliB.exec('udhcpc', ['-i', 'cliB', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', udScript, '-V', 'PXEClient:Arch:00007', '-x', '0x5d:0007'], { timeoutMs: 30_000 });
  const ud = readFileSync(join(dir, 'udhcpc.out'), 'utf8').trim().split('\n');
  t.equal(ud.length, 2, 'two udhcpc leases');
  t.match(ud[0], /ip=10\.92\.0\.1\d\d mask=24 router=10\.92\.0\.1 /, `udhcpc on B gets B's subnet: ${ud[0]}`);
  t.match(ud[0], /boot_file= /, 'plain client: no boot file');
  t.match(ud[1], /ip=10\.92\.0\.1\d\d .*siaddr=10\.92\.0\.1 boot_file=ipxe\.efi /, `PXE client arch 7 gets ipxe.efi from B's address: ${ud[1]}`);

  // perfdhcp as a relay from A (giaddr = its static address).
  await cliA.ip('addr', 'flush', 'dev', 'cliA');
  await cliA.ip('addr', 'add', '10.91.0.2/24', 'dev', 'cliA');
  let perf = '';
  try {
    perf = (await cliA.exec('perfdhcp', ['-4', '-l', 'cliA', '-r', '20', '-n', '40', '-R', '40', '-p', '5', '10.91.0.1'], { timeoutMs: 30_000 })).stdout;
  } catch (err) {
    perf = (err as { stdout?: string }).stdout ?? ''; // exit 3 = some drops, still a report
  }
  const acks = /Statistics for: REQUEST-ACK[\s\S]*?received packets: (\d+)/.exec(perf);
  t.ok(Number(acks?.[1] ?? 0) >= 30, `perfdhcp completed DORAs through the relay path (${acks?.[1] ?? 'none'} ACKs)`);

  await server.stop();
  const store = await openSqliteStore(join(dir, 'farrier.db'));
  t.teardown(() => store.close());
  t.equal((await store.getLease(dhIp))?.state, 'released', "dhclient's RELEASE recorded");
  const pxeLease = await store.getLeaseByMac(PXE_MAC);
  t.equal(pxeLease?.subnet, 'net-b', 'udhcpc lease is in net-b');
  const perfLeases = await store.listLeases({ filters: [{ path: ['subnet'], value: 'net-a' }, { path: ['state'], value: 'bound' }] });
  t.ok(perfLeases.total >= 30, `perfdhcp leases bound in net-a (${perfLeases.total})`);
  const machine = await store.findOne<{ address: string }>('machines', [{ path: ['macs'], value: PXE_MAC }]);
  t.equal(machine?.address, pxeLease?.address, "the PXE machine's address follows its lease");
});
