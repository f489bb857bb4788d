/**
 * A machine's boot timeline from real traffic to a whole daemon on loopback: the DHCP exchange with its
 * decision, a TFTP and an HTTP fetch from the machine's leased address (attributed by address), a render
 * error, a bootenv change and a callback; it survives a restart; a machine token reads its own timeline
 * and not another's; `timeline` events carry each new entry.
 */
import { createSocket } from 'node:dgram';
import { get } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ACK, build, DISCOVER, ipBytes, OFFER, REQUEST } from '../dhcp/helpers/packets.js';
import { tempDir } from '../helpers/env.js';
import { eventually, startWhole } from '../wiring/helpers.js';

const MAC = '52:54:00:7e:00:01';
const ADDRESS = '127.0.6.1';
const pxe = (type: number, extra: Array<[number, Buffer | number[] | string]> = []) =>
  build({ type, mac: MAC, options: [[60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [55, [1, 3, 6, 15, 66, 67]], ...extra] });

/** One TFTP RRQ from `from` (512-byte blocks, ACKs at once); resolves with the bytes. */
function tftpGet(port: number, file: string, from: string): Promise<Buffer> {
  const sock = createSocket('udp4');
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    sock.on('message', (msg, rinfo) => {
      if (msg.readUInt16BE(0) === 5) {
        sock.close();
        reject(new Error(msg.subarray(4).toString()));
        return;
      }
      const block = msg.readUInt16BE(2);
      if (block === chunks.length + 1) chunks.push(msg.subarray(4));
      sock.send(Buffer.from([0, 4, block >> 8, block & 0xff]), rinfo.port, rinfo.address, () => {
        if (msg.length < 516) {
          sock.close();
          resolve(Buffer.concat(chunks));
        }
      });
    });
    sock.bind(0, from, () => sock.send(Buffer.from(`\0\x01${file}\0octet\0`, 'binary'), port, '127.0.0.1'));
  });
}

/** HTTP GET from a given local address (the machine's), resolving with the status. */
function httpGetFrom(url: string, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { localAddress: from }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

interface Entry {
  kind: string;
  summary: string;
  detail: Record<string, unknown>;
  machine: string;
}

t.test('DHCP, TFTP, HTTP, render errors, bootenv changes and callbacks land on the machine timeline', async (t) => {
  const dataDir = tempDir(t, 'ftl-');
  mkdirSync(join(dataDir, 'files', 'tl'), { recursive: true });
  writeFileSync(join(dataDir, 'files', 'tl', 'kernel'), Buffer.alloc(3000, 7));
  const w = await startWhole(t, { dataDir });
  const { api } = w;
  t.equal((await api('POST', '/api/v1/bootenvs', { name: 'tl-a', os: { name: 'tl' }, kernel: 'vmlinuz', initrds: [], bootParams: 'a' })).status, 201);
  t.equal((await api('POST', '/api/v1/bootenvs', { name: 'tl-broken', os: { name: 'tl' }, kernel: 'vmlinuz', initrds: [], bootParams: 'x={{param "tl/missing"}}' })).status, 201);
  t.equal((await api('POST', '/api/v1/subnets', { name: 'lo', cidr: '127.0.0.0/16', activeStart: ADDRESS, activeEnd: '127.0.6.9' })).status, 201);
  const created = await api('POST', '/api/v1/machines', { name: 'tl1', macs: [MAC], bootenv: 'tl-a' });
  const uuid = (created.body as { uuid: string }).uuid;
  const other = (await api('POST', '/api/v1/machines', { name: 'tl2', macs: ['52:54:00:7e:00:02'] })).body as { uuid: string };

  t.equal((await w.ask(pxe(DISCOVER)))?.type, OFFER);
  t.equal((await w.ask(pxe(REQUEST, [[54, ipBytes('127.0.0.1')], [50, ipBytes(ADDRESS)]])))?.type, ACK);
  await eventually(() => api('GET', `/api/v1/machines/${uuid}`), (r) => (r.body as { address?: string }).address === ADDRESS);
  t.equal((await tftpGet(w.config.tftpPort, 'tl/kernel', ADDRESS)).length, 3000, 'TFTP fetch from the machine address');
  t.equal(await httpGetFrom(`${w.daemon.url}/tl/kernel`, ADDRESS), 200, 'HTTP fetch from the machine address');
  t.equal((await api('POST', `/api/v1/machines/${uuid}/bootenv`, { bootenv: 'tl-broken' })).status, 200);
  t.equal(await httpGetFrom(`${w.daemon.url}/52-54-00-7e-00-01.ipxe`, ADDRESS), 500, 'the script fails to render');
  t.equal((await api('POST', '/api/v1/events', { type: 'machines', action: 'install-finished', key: uuid, object: { step: 'late' } })).status, 202);

  const kinds = ['dhcp', 'tftp', 'http', 'render', 'bootenv', 'callback'];
  const res = await eventually(
    () => api('GET', `/api/v1/machines/${uuid}/timeline`),
    (r) => Array.isArray(r.body) && kinds.every((k) => (r.body as Entry[]).some((e) => e.kind === k)),
  );
  t.equal(res.status, 200);
  const entries = res.body as Entry[];
  for (const k of kinds) t.ok(entries.some((e) => e.kind === k), `a ${k} entry`);
  t.ok(entries.every((e) => e.machine === uuid), 'only this machine');
  t.match(entries.find((e) => e.kind === 'dhcp' && e.detail.phase === 'discover'), { summary: /DHCP discover: .*undionly\.kpxe/, detail: { mac: MAC, file: 'undionly.kpxe' } }, 'the DISCOVER with its decision and boot file');
  t.match(entries.find((e) => e.kind === 'tftp'), { summary: /TFTP tl\/kernel: complete, 3000 bytes in \d+ ms/, detail: { path: 'tl/kernel', bytes: 3000, outcome: 'complete', mac: MAC } }, 'the TFTP transfer, attributed by address');
  t.match(entries.find((e) => e.kind === 'http' && e.detail.path === '/tl/kernel'), { summary: /^HTTP GET \/tl\/kernel: 200, 3000 bytes in \d+ ms$/, detail: { status: 200, bytes: 3000, durationMs: Number } }, 'the HTTP transfer with bytes and duration');
  t.match(entries.find((e) => e.kind === 'render'), { summary: /render error in .*\.ipxe: .*tl\/missing/ }, 'the render error naming the missing param');
  t.match(entries.find((e) => e.kind === 'bootenv' && e.detail.from === 'tl-a'), { summary: 'bootenv tl-a → tl-broken' });
  t.match(entries.find((e) => e.kind === 'callback'), { summary: 'callback: install-finished', detail: { step: 'late' } });
  const times = entries.map((e) => (e as unknown as { time: string }).time);
  t.same(times, [...times].sort(), 'oldest first');

  t.equal(((await api('GET', `/api/v1/machines/mac:${MAC}/timeline?limit=2`)).body as Entry[]).length, 2, 'limit keeps the newest');
  t.equal((await api('GET', '/api/v1/machines/name:nope/timeline')).status, 404);

  const token = ((await api('POST', `/api/v1/machines/${uuid}/token`, {})).body as { token: string }).token;
  const asMachine = (key: string) => fetch(`${w.daemon.url}/api/v1/machines/${key}/timeline`, { headers: { authorization: `Bearer ${token}` } });
  t.equal((await asMachine(uuid)).status, 200, 'a machine token reads its own timeline');
  t.equal((await asMachine(other.uuid)).status, 403, '… and not another machine\'s');

  await w.daemon.close();
  const again = await startWhole(t, { dataDir });
  const after = (await again.api('GET', `/api/v1/machines/${uuid}/timeline`)).body as Entry[];
  t.same(after.map((e) => e.summary), entries.map((e) => e.summary), 'the timeline survives a restart');
});
