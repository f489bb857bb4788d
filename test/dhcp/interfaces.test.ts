/**
 * `farrier serve --dhcp-interfaces br0` started while br0 has no carrier (its only port is down):
 * the daemon starts, says in its log that it waits for br0 and why, and serves DHCP on br0 once a port comes
 * up — a real udhcpc in another namespace gets an address. Then br0 loses its address (log says it stopped
 * serving) and gets a new one (served again with the new server id). Namespaces and veth are the test's own.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { requireNetns, requireTool, tempDir } from '../helpers/env.js';
import { createNetns, waitFor } from '../e2e/lib/netns.js';
import { serveInNs } from './helpers/serveInNs.js';

t.test('an interface that comes up after start is served; address changes are followed', async (t) => {
  if (!requireNetns(t)) return;
  for (const tool of ['udhcpc', 'curl', 'ss']) if (!requireTool(t, tool)) return;
  const dir = tempDir(t, 'farrier-dhcp-ifup-');
  const srv = await createNetns(t, 'fdhif');
  const cli = await createNetns(t, 'fdhic');
  await srv.ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  await srv.ip('addr', 'add', '10.93.0.1/24', 'dev', 'br0');
  await srv.ip('link', 'set', 'br0', 'up');
  // The bridge's only port stays down until the daemon runs, so br0 has no carrier (an empty bridge would).
  await srv.ip('link', 'add', 'port0', 'type', 'veth', 'peer', 'name', 'cli0', 'netns', cli.name);
  await srv.ip('link', 'set', 'port0', 'master', 'br0');

  const daemon = await serveInNs(t, srv, { address: '10.93.0.1', dhcpInterfaces: ['br0'], logLevel: 'info' });
  t.teardown(() => daemon.proc.stop());
  await waitFor(() => daemon.log().includes('waiting for br0 (no carrier)'), 30_000, 'the waiting log line').catch(() => undefined);
  t.match(daemon.log(), /dhcp: waiting for br0 \(no carrier\)/, 'the log says DHCP waits for br0 and why');
  const created = await daemon.api('POST', '/api/v1/subnets', { name: 'late', cidr: '10.93.0.0/24', activeStart: '10.93.0.100', activeEnd: '10.93.0.150' });
  t.equal(created.status, 201, 'subnet created');

  await srv.ip('link', 'set', 'port0', 'up');
  await cli.ip('link', 'set', 'cli0', 'up');
  await waitFor(() => /"msg":"dhcp: serving"[^\n]*br0:10\.93\.0\.1\/24/.test(daemon.log()) || /br0:10\.93\.0\.1\/24[^\n]*dhcp: serving/.test(daemon.log()), 30_000, 'DHCP to serve br0').catch(() => undefined);
  t.match(daemon.log(), /br0:10\.93\.0\.1\/24/, 'the log says br0 is served now');

  const script = join(dir, 'udhcpc-script');
  writeFileSync(script, `#!/bin/sh\ncase "$1" in bound|renew) echo "ip=$ip serverid=$serverid" >> ${dir}/udhcpc.out ;; esac\nexit 0\n`);
  chmodSync(script, 0o755);
  const udhcpc = ['-i', 'cli0', '-f', '-q', '-n', '-t', '10', '-T', '1', '-s', script];
  await cli.exec('udhcpc', udhcpc, { timeoutMs: 60_000 });
  t.match(readFileSync(join(dir, 'udhcpc.out'), 'utf8'), /^ip=10\.93\.0\.1\d\d serverid=10\.93\.0\.1$/m, 'udhcpc got an address from br0');

  // The address goes away, then br0 gets another one: stop serving, then serve with the new server id.
  await srv.ip('addr', 'flush', 'dev', 'br0');
  await waitFor(() => daemon.log().includes('dhcp: interface gone'), 30_000, 'the interface-gone log line').catch(() => undefined);
  t.match(daemon.log(), /dhcp: interface gone; stopped serving it/, 'losing the address is noticed');
  await srv.ip('addr', 'add', '10.93.0.2/24', 'dev', 'br0');
  await waitFor(() => daemon.log().includes('br0:10.93.0.2/24'), 30_000, 'br0 served with its new address').catch(() => undefined);
  await cli.exec('udhcpc', udhcpc, { timeoutMs: 60_000 });
  t.match(readFileSync(join(dir, 'udhcpc.out'), 'utf8'), /^ip=10\.93\.0\.1\d\d serverid=10\.93\.0\.2$/m, 'served again, from the new address');
  t.notOk(daemon.exited(), 'the daemon kept running throughout');
});
