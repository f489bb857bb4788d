/**
 * Durability: the DHCP server runs as a child process; clients take leases; the child is killed with
 * SIGKILL mid-traffic and restarted on the same data dir. Every ACKed lease must still be there (the client
 * can confirm it with INIT-REBOOT) and no ACKed address may be offered to another MAC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/env.js';
import { Inbox, randomPort, SERVER_IP, udp } from './helpers/harness.js';
import { ACK, build, DISCOVER, ipBytes, OFFER, REQUEST } from './helpers/packets.js';
import { subnet } from './helpers/storeDirectory.js';

const launcher = fileURLToPath(new URL('./fixtures/launcher.ts', import.meta.url));

function start(config: object): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...process.execArgv, launcher, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`launcher exited ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
  });
}

t.test('kill -9 while clients hold leases: every ACKed lease survives the restart', async (t) => {
  const dataDir = tempDir(t, 'farrier-dhcp-dur-');
  const client = new Inbox(await udp(SERVER_IP, 0));
  t.teardown(() => client.sock.close());
  const port = randomPort();
  const config = {
    dataDir,
    port,
    clientPort: client.sock.address().port,
    explicit: { bindAddress: SERVER_IP, address: SERVER_IP, prefix: 8, broadcastTo: SERVER_IP },
    seed: { subnets: [subnet('lan', '127.0.0.0/16', '127.0.1.10', '127.0.1.250')] },
  };
  let child = await start(config);
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const send = (b: Buffer) => client.sock.send(b, port, SERVER_IP);

  const acked = new Map<string, string>();
  let killed = false;
  const dora = async (i: number) => {
    const mac = `52:54:00:dd:00:${i.toString(16).padStart(2, '0')}`;
    const d = build({ type: DISCOVER, mac });
    send(d);
    const offer = await client.next(d.readUInt32BE(4), 4000);
    if (!offer || offer.p.type !== OFFER || killed) return;
    const r = build({ type: REQUEST, mac, options: [[54, ipBytes(SERVER_IP)], [50, ipBytes(offer.p.yiaddr)]] });
    send(r);
    const ack = await client.next(r.readUInt32BE(4), 4000);
    if (ack?.p.type === ACK) acked.set(mac, ack.p.yiaddr);
    if (acked.size >= 40 && !killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: 120 }, (_, i) => dora(i)));
  t.ok(killed, 'killed with SIGKILL mid-traffic');
  t.ok(acked.size >= 40, `${acked.size} leases ACKed before the kill`);
  await new Promise((r) => setTimeout(r, 100));

  child = await start({ ...config, seed: undefined });
  for (const [mac, ip] of acked) {
    const r = build({ type: REQUEST, mac, options: [[50, ipBytes(ip)]] });
    send(r);
    const ack = await client.next(r.readUInt32BE(4), 30_000);
    t.equal(ack?.p.type === ACK ? ack.p.yiaddr : 'no ACK', ip, `${mac} confirms ${ip} after the restart`);
  }
  const ackedIps = new Set(acked.values());
  let clash = 0;
  for (let i = 0; i < 60; i++) {
    const d = build({ type: DISCOVER, mac: `52:54:00:ee:00:${i.toString(16).padStart(2, '0')}` });
    send(d);
    const offer = await client.next(d.readUInt32BE(4), 1500);
    if (offer && ackedIps.has(offer.p.yiaddr)) clash++;
  }
  t.equal(clash, 0, 'no ACKed address offered to another MAC');

  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const store = await openSqliteStore(join(dataDir, 'farrier.db'));
  t.teardown(() => store.close());
  t.equal(await store.checkIntegrity(), 'ok', 'database intact');
  for (const [mac, ip] of acked) {
    const l = await store.getLease(ip);
    if (l?.mac !== mac || l.state !== 'bound') t.fail(`lease ${ip} lost or changed: ${JSON.stringify(l)}`);
  }
  t.pass('every ACKed lease is bound to its MAC in the store');
});
