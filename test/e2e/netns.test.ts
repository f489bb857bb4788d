import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { requireNetns, requireTool } from '../helpers/env.js';
import { createBridgeWithTap, createNetns, createVethPair, ip, listNetns, pingOnce, startRaHelper, sweepLeakedNetns, waitFor } from './lib/netns.js';

t.test('two namespaces joined by a veth pair can ping each other and are gone after teardown', async (t) => {
  if (!requireNetns(t)) return;
  let names: string[] = [];
  await t.test('create', async (tt) => {
    const a = await createNetns(tt, 'finfra');
    const b = await createNetns(tt, 'finfra');
    names = [a.name, b.name];
    tt.match(a.name, new RegExp(`^finfra-[0-9a-f]{6}-${process.pid}$`));
    tt.not(a.name, b.name);
    await createVethPair({ ns: a, ifname: 'va', address: '10.213.0.1/24' }, { ns: b, ifname: 'vb', address: '10.213.0.2/24' });
    tt.ok(await pingOnce(a, '10.213.0.2'), 'a pings b');
    tt.ok(await pingOnce(b, '10.213.0.1'), 'b pings a');
    const { stdout } = await a.ip('-br', 'link');
    tt.match(stdout, /^va@/m, 'veth end va lives in namespace a');
    const sleeper = a.spawn('sleep', ['600']);
    tt.ok(sleeper.pid > 0);
    const out = await a.exec('ip', ['netns', 'identify', String(sleeper.pid)]);
    tt.equal(out.stdout.trim(), a.name, 'the spawned process runs inside namespace a');
  });
  const left = await listNetns();
  for (const n of names) t.notOk(left.includes(n), `${n} deleted`);
});

t.test('bridge + TAP with an RA helper advertises a prefix', async (t) => {
  if (!requireNetns(t) || !requireTool(t, 'dnsmasq')) return;
  const ns = await createNetns(t, 'finfra');
  const br = await createBridgeWithTap(ns, { address: '10.214.0.1/24', ipv6: 'fd42:214::1/64' });
  const { stdout } = await ns.ip('-d', 'link', 'show', br.tap);
  t.match(stdout, /master br0/, 'tap0 is enslaved to br0');
  t.match(stdout, /tun type tap/, 'tap0 is a TAP device');
  const ra = startRaHelper(t, ns, br.bridge);
  let exitedEarly = false;
  void ra.exited.then(() => (exitedEarly = true));
  await waitFor(async () => (await ns.exec('ss', ['-lnpH'])).stdout.includes(`pid=${ra.pid}`) || exitedEarly, 10_000, 'dnsmasq RA helper');
  await sleep(200);
  t.notOk(exitedEarly, 'the RA helper keeps running');
  const client = await createNetns(t, 'finfra');
  await createVethPair({ ns, ifname: 'vport' }, { ns: client, ifname: 'vcli' });
  await ns.ip('link', 'set', 'vport', 'master', br.bridge);
  await waitFor(async () => /inet6 fd42:214:/.test((await client.ip('-6', 'addr', 'show', 'dev', 'vcli')).stdout), 20_000, 'a SLAAC address from the RA');
  t.pass('a host on the bridge autoconfigured an address from the advertised prefix');
});

t.test('namespaces leaked by a dead test process are swept, with what runs inside them', async (t) => {
  if (!requireNetns(t)) return;
  // a namespace named as if created by a process that no longer exists, with a process left inside it
  const gone = spawnSync('true');
  const leaked = `finfra-abcdef-${gone.pid}`;
  await ip('netns', 'add', leaked);
  t.teardown(async () => {
    if ((await listNetns()).includes(leaked)) await ip('netns', 'del', leaked);
  });
  const orphan = spawn('ip', ['netns', 'exec', leaked, 'sleep', '600'], { stdio: 'ignore' });
  const orphanExit = new Promise((r) => orphan.once('exit', r));
  await waitFor(async () => (await ip('netns', 'pids', leaked)).stdout.trim() !== '', 5000, 'the orphan to start');
  const swept = await sweepLeakedNetns();
  t.ok(swept.includes(leaked), 'the leaked namespace was swept');
  t.notOk((await listNetns()).includes(leaked), 'and is gone');
  await orphanExit;
  t.pass('the process inside it was stopped');
});
