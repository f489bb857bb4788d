/**
 * DHCP under a flood of hostile datagrams: the real daemon (`farrier serve`) in a namespace of its own, serving
 * br0; a fuzz namespace on that bridge sends FARRIER_DHCP_FUZZ_PACKETS (default 1,000,000) random and mutated
 * datagrams (helpers/fuzz.ts: every truncation, bit flips, bad lengths, option overruns, Pad runs, option
 * overload, huge PRLs, hlen > 16, bogus giaddr/ciaddr, option 82 garbage, bad cookie, BOOTREPLY, empty and
 * 60 KB datagrams) to :67 and :4011, with DORAs of the independent test codec (on the link and through a relay)
 * interleaved, while real udhcpc and dhclient in a third namespace get leases now and then.
 *
 * Checked: the daemon never exits and logs no crash; every datagram the kernel handed it is counted as
 * handled or dropped (in /metrics, exactly the namespace's UDP InDatagrams); with no kernel drops, the
 * malformed count equals the oracle's count of malformed datagrams sent; every DORA succeeds; RSS after the
 * run stays within a generous bound of RSS after warm-up. Figures go to t.comment.
 * Root, netns, udhcpc, dhclient and curl are required (skip with a message; under CI=true, fail).
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { requireNetns, requireTool, tempDir } from '../helpers/env.js';
import { createNetns, waitFor, type Netns } from '../e2e/lib/netns.js';
import { tsLoaderArgs } from '../e2e/lib/tsScript.js';
import { metricSum, serveInNs, type ServedDaemon } from '../dhcp/helpers/serveInNs.js';

const driver = fileURLToPath(new URL('../dhcp/fixtures/fuzzDriver.ts', import.meta.url));
const TOTAL = Number(process.env.FARRIER_DHCP_FUZZ_PACKETS ?? 1_000_000);
const SEED = Number(process.env.FARRIER_DHCP_FUZZ_SEED ?? 20261126);
const MiB = 1024 * 1024;

interface DriverResult {
  sent: number;
  malformed: number;
  toProxy: number;
  extraSent: number;
  retries: number;
  floodMs: number;
  kinds: Record<string, { sent: number; malformed: number }>;
  doras: Array<{ mac: string; via: string; ok: boolean; address?: string; why?: string; atPacket: number }>;
}

/** Received by the daemon's handler: every request it handled (by type), every malformed drop, every shed one. */
const received = (m: Map<string, number>): number =>
  metricSum(m, 'farrier_dhcp_packets_total{direction="in"') + metricSum(m, 'farrier_dhcp_dropped_total{reason="malformed"}') + metricSum(m, 'farrier_dhcp_dropped_total{reason="overload"}');

/** A real client in `ns` on `ifname`: udhcpc or dhclient, with a hook script that records the lease. */
async function realClient(ns: Netns, dir: string, tool: 'udhcpc' | 'dhclient', run: number): Promise<string> {
  const out = join(dir, `${tool}-${run}.out`);
  const script = join(dir, `${tool}-${run}.sh`);
  if (tool === 'udhcpc') {
    writeFileSync(script, `#!/bin/sh\ncase "$1" in bound|renew) echo "ip=$ip" >> ${out} ;; esac\nexit 0\n`);
    chmodSync(script, 0o755);
    await ns.exec('udhcpc', ['-i', 'rc0', '-f', '-q', '-n', '-t', '10', '-T', '2', '-s', script], { timeoutMs: 60_000 });
  } else {
    writeFileSync(script, `#!/bin/sh\ncase "$reason" in PREINIT) ip link set "$interface" up ;; BOUND|RENEW|REBIND|REBOOT) echo "ip=$new_ip_address" >> ${out} ;; esac\nexit 0\n`);
    chmodSync(script, 0o755);
    const files = ['-sf', script, '-pf', join(dir, `dh-${run}.pid`), '-lf', join(dir, `dh-${run}.leases`)];
    await ns.exec('dhclient', ['-4', ...files, '-1', 'rc0'], { timeoutMs: 60_000 });
    await ns.exec('dhclient', ['-4', ...files, '-r', 'rc0'], { timeoutMs: 30_000 }).catch(() => undefined);
  }
  return existsSync(out) ? readFileSync(out, 'utf8').trim() : '';
}

t.test(`${TOTAL} fuzzed DHCP datagrams against farrier serve`, async (t) => {
  if (!requireNetns(t)) return;
  for (const tool of ['udhcpc', 'dhclient', 'curl', 'ss']) if (!requireTool(t, tool)) return;
  const dir = tempDir(t, 'farrier-dhcpfuzz-');
  const srv = await createNetns(t, 'fdfzs');
  const fz = await createNetns(t, 'fdfzf');
  const rc = await createNetns(t, 'fdfzr');
  await srv.ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  await srv.ip('addr', 'add', '10.77.0.1/16', 'dev', 'br0');
  await srv.ip('link', 'set', 'br0', 'up');
  for (const [port, peer, ns] of [['pfz', 'fz0', fz], ['prc', 'rc0', rc]] as const) {
    await srv.ip('link', 'add', port, 'type', 'veth', 'peer', 'name', peer, 'netns', ns.name);
    await srv.ip('link', 'set', port, 'master', 'br0');
    await srv.ip('link', 'set', port, 'up');
    await ns.ip('link', 'set', peer, 'up');
  }
  // The fuzz namespace is also the relay agent (10.78.0.1) of a second subnet reached over the bridge.
  await fz.ip('addr', 'add', '10.77.0.2/16', 'dev', 'fz0');
  await fz.ip('addr', 'add', '10.78.0.1/16', 'dev', 'fz0');
  await srv.ip('route', 'add', '10.78.0.0/16', 'dev', 'br0');
  // Where the on-link DORAs' 255.255.255.255 goes (a namespace without a default route cannot send it).
  await fz.ip('route', 'add', 'default', 'dev', 'fz0');

  const daemon: ServedDaemon = await serveInNs(t, srv, { address: '10.77.0.1', dhcpInterfaces: ['br0'], logLevel: 'warn' });
  t.teardown(() => daemon.proc.stop());
  for (const [name, cidr, from, to] of [
    ['fuzz', '10.77.0.0/16', '10.77.1.0', '10.77.250.255'],
    ['relay', '10.78.0.0/16', '10.78.1.0', '10.78.250.255'],
  ]) {
    const r = await daemon.api('POST', '/api/v1/subnets', { name, cidr, activeStart: from, activeEnd: to, options: [{ code: 3, value: cidr.replace('0.0/16', '0.1') }] });
    t.equal(r.status, 201, `subnet ${name} created`);
  }
  // A known PXE machine among the fuzzed MACs, so mutated PXE requests also run the boot decision.
  const m = await daemon.api('POST', '/api/v1/machines', { name: 'fuzz-pxe', macs: ['02:f0:00:00:00:07'], bootenv: 'local' });
  t.equal(m.status, 201, `machine created ${m.status === 201 ? '' : JSON.stringify(m.body)}`);
  await waitFor(async () => (await daemon.metrics()).size > 0, 30_000, 'metrics');

  const before = { metrics: await daemon.metrics(), udp: daemon.udp() };
  const resultFile = join(dir, 'result.json');
  const progressFile = join(dir, 'progress.json');
  const config = {
    server: '10.77.0.1',
    relay: '10.78.0.1',
    port: 67,
    proxyPort: 4011,
    total: TOTAL,
    seed: SEED,
    serverPid: daemon.proc.pid,
    resultFile,
    progressFile,
    doraEvery: Math.max(100, Math.floor(TOTAL / 40)),
    net: { server: '10.77.0.1', network: '10.77.0.0', broadcast: '10.77.255.255', relay: '10.78.0.1', macs: 4096, poolPrefix: '10.77' },
  };
  const started = Date.now();
  const proc = fz.spawn(process.execPath, [...tsLoaderArgs(), driver, JSON.stringify(config)], { logFile: join(dir, 'driver.log') });
  let driverDone = false;
  const driverExit = proc.exited.then((code) => {
    driverDone = true;
    return code;
  });
  const progress = (): number => (existsSync(progressFile) ? (JSON.parse(readFileSync(progressFile, 'utf8')) as { sent: number }).sent : 0);

  // Real clients through the run; RSS sampled once warmed up (after a tenth of the datagrams).
  const real: string[] = [];
  let rssWarm = 0;
  let rssPeak = 0;
  for (let run = 0; !driverDone || run < 4; run++) {
    const tool = run % 2 === 0 ? 'udhcpc' : 'dhclient';
    const got = await realClient(rc, dir, tool, run).catch((err: Error) => `failed: ${err.message.slice(0, 300)}`);
    real.push(`${tool} at ${progress()}: ${got}`);
    rssPeak = Math.max(rssPeak, daemon.rssBytes());
    if (!rssWarm && progress() >= TOTAL / 10) rssWarm = daemon.rssBytes();
    if (daemon.exited()) break;
    await Promise.race([driverExit, new Promise((r) => setTimeout(r, 5000))]);
  }
  const code = await driverExit;
  t.equal(code, 0, `the fuzz driver finished (${readFileSync(join(dir, 'driver.log'), 'utf8').slice(-2000)})`);
  t.notOk(daemon.exited(), 'farrier serve never exited');
  if (code !== 0 || daemon.exited()) {
    t.comment(daemon.log().slice(-3000));
    return;
  }
  const res = JSON.parse(readFileSync(resultFile, 'utf8')) as DriverResult;

  // Let the daemon read whatever is still queued, then compare its counters with the kernel's.
  let after = { metrics: await daemon.metrics(), udp: daemon.udp() };
  await waitFor(
    async () => {
      const prev = after;
      await new Promise((r) => setTimeout(r, 500));
      after = { metrics: await daemon.metrics(), udp: daemon.udp() };
      return received(after.metrics) === received(prev.metrics) && after.udp.InDatagrams === prev.udp.InDatagrams;
    },
    60_000,
    'the daemon to work through its queue',
  );
  const rssEnd = daemon.rssBytes();
  const delta = (name: string) => (after.udp[name] ?? 0) - (before.udp[name] ?? 0);
  const counted = received(after.metrics) - received(before.metrics);
  const malformed = metricSum(after.metrics, 'farrier_dhcp_dropped_total{reason="malformed"}') - metricSum(before.metrics, 'farrier_dhcp_dropped_total{reason="malformed"}');
  const kernelDrops = delta('RcvbufErrors');

  t.equal(counted, delta('InDatagrams'), `every datagram the daemon read is counted as handled or dropped (${counted})`);
  t.equal(kernelDrops, 0, 'flow control kept the kernel from dropping any (so the counts below are exact)');
  t.equal(malformed, res.malformed, `malformed drops equal the malformed datagrams sent (${res.malformed})`);
  t.ok(counted >= res.sent + res.extraSent, 'the daemon read every datagram the fuzz sent (plus the real clients\')');
  const failed = res.doras.filter((d) => !d.ok);
  t.same(failed, [], `all ${res.doras.length} interleaved DORAs succeeded`);
  t.ok(res.doras.length >= 40, 'DORAs ran all through the flood');
  t.ok(
    real.every((r) => /ip=10\.77\.\d+\.\d+/.test(r)),
    `every real client run got a lease:\n${real.join('\n')}`,
  );
  t.ok(real.filter((r) => r.startsWith('udhcpc')).length >= 2 && real.filter((r) => r.startsWith('dhclient')).length >= 2, 'udhcpc and dhclient each ran at least twice');
  const log = daemon.log();
  t.notMatch(log, /Unhandled|uncaught|FATAL|"level":60/i, 'no crash or unhandled rejection in the log');
  t.equal(metricSum(after.metrics, 'farrier_dhcp_dropped_total{reason="errors"}'), 0, 'no internal errors');
  t.ok(rssEnd < rssWarm + 96 * MiB, `RSS flat: warm ${(rssWarm / MiB).toFixed(1)} MiB, end ${(rssEnd / MiB).toFixed(1)} MiB`);

  const seconds = res.floodMs / 1000;
  const reasons = [...after.metrics].filter(([k]) => k.startsWith('farrier_dhcp_dropped_total')).map(([k, v]) => `${/reason="([^"]+)"/.exec(k)?.[1]}=${v}`);
  const types = [...after.metrics].filter(([k]) => k.startsWith('farrier_dhcp_packets_total')).map(([k, v]) => `${/direction="(\w+)",type="(\w+)"/.exec(k)?.slice(1).join('_')}=${v}`);
  t.comment(`packets sent ${res.sent} (+${res.extraSent} DORA) in ${seconds.toFixed(1)} s = ${Math.round(res.sent / seconds)} pps; to proxy port ${res.toProxy}; malformed ${res.malformed}`);
  t.comment(`daemon counted ${counted} = kernel InDatagrams ${delta('InDatagrams')}; kernel RcvbufErrors ${kernelDrops}`);
  t.comment(`dropped/ignored: ${reasons.join(' ')}`);
  t.comment(`packets: ${types.join(' ')}`);
  t.comment(`RSS warm ${(rssWarm / MiB).toFixed(1)} MiB, peak ${(rssPeak / MiB).toFixed(1)} MiB, end ${(rssEnd / MiB).toFixed(1)} MiB`);
  t.comment(`DORAs ${res.doras.length - failed.length}/${res.doras.length} (${res.retries} resends); real clients: ${real.length} runs`);
  t.comment(`mutations: ${Object.entries(res.kinds).map(([k, v]) => `${k}=${v.sent}/${v.malformed}`).join(' ')}`);
  t.comment(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
