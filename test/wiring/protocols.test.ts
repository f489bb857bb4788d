/**
 * The whole daemon through its real protocols: a subnet and a machine created over the API; a DHCP
 * DISCOVER/REQUEST on loopback gets an address and the PXE boot file; the machine's address follows the
 * lease; its `<mac>.ipxe` comes byte-identical over TFTP (atftp) and HTTP; API changes to the machine,
 * the subnet and the prefs change the very next DHCP answer and file fetch; /api/v1/info shows it all.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ACK, build, DISCOVER, ipBytes, OFFER, optText, REQUEST } from '../dhcp/helpers/packets.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { eventually, startWhole } from './helpers.js';

const run = promisify(execFile);
const MAC = '52:54:00:3a:00:01';
const HEXHYP = MAC.replace(/:/g, '-');
/** A BIOS PXE ROM: option 60 PXEClient, 93 arch 0, and the PRL asking for 66/67. */
const pxe = (type: number, extra: Array<[number, Buffer | number[] | string]> = [], mac = MAC) =>
  build({ type, mac, options: [[60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [55, [1, 3, 6, 15, 66, 67]], ...extra] });

t.test('DHCP, TFTP and HTTP of one daemon serve a machine created through the API', async (t) => {
  const w = await startWhole(t);
  const { api, config } = w;
  const bootenv = (name: string, marker: string) => ({ name, os: { name: 'wire' }, kernel: 'vmlinuz', initrds: ['initrd.img'], bootParams: `console=ttyS0 marker=${marker}` });
  t.equal((await api('POST', '/api/v1/bootenvs', bootenv('wire-a', 'A'))).status, 201);
  t.equal((await api('POST', '/api/v1/bootenvs', bootenv('wire-b', 'B'))).status, 201);
  t.equal((await api('POST', '/api/v1/subnets', { name: 'lo', cidr: '127.0.0.0/16', activeStart: '127.0.3.10', activeEnd: '127.0.3.20' })).status, 201);
  const created = await api('POST', '/api/v1/machines', { name: 'pxe1', macs: [MAC], bootenv: 'wire-a' });
  t.equal(created.status, 201);
  const uuid = (created.body as { uuid: string }).uuid;

  const offer = await w.ask(pxe(DISCOVER));
  t.equal(offer?.type, OFFER, 'OFFER for the machine');
  t.equal(offer?.yiaddr, '127.0.3.10', 'first pool address');
  t.equal(offer?.file, 'undionly.kpxe', 'BIOS PXE: the iPXE loader in BOOTP file');
  t.equal(offer && optText(offer, 67), 'undionly.kpxe', '… and in option 67');
  t.equal(offer?.siaddr, '127.0.0.1', 'next server: our address');
  const ack = await w.ask(pxe(REQUEST, [[54, ipBytes('127.0.0.1')], [50, ipBytes('127.0.3.10')]]));
  t.equal(ack?.type, ACK);
  t.equal(ack?.yiaddr, '127.0.3.10');
  const m = await eventually(() => api('GET', `/api/v1/machines/${uuid}`), (r) => (r.body as { address?: string }).address === '127.0.3.10');
  t.equal((m.body as { address: string }).address, '127.0.3.10', 'the bound lease set the machine address');
  t.match((await api('GET', '/api/v1/leases/127.0.3.10')).body, { mac: MAC, state: 'bound' }, 'the lease is listed by the API');

  const http = w.daemon.status().http.port;
  const ipxe = await w.ask(pxe(DISCOVER, [[77, 'iPXE']]));
  t.equal(ipxe?.file, `http://127.0.0.1:${http}/boot.ipxe`, 'iPXE is sent to boot.ipxe on the port HTTP really listens on');

  const fetchHttp = async (path: string) => Buffer.from(await (await fetch(`${w.daemon.url}/${path}`)).arrayBuffer());
  const script = await fetchHttp(`${HEXHYP}.ipxe`);
  t.match(script.toString(), `kernel http://127.0.0.1:${http}/wire/vmlinuz initrd=initrd.img console=ttyS0 marker=A`, 'rendered for bootenv wire-a');
  t.match((await fetchHttp('boot.ipxe')).toString(), `chain --autofree http://127.0.0.1:${http}/\${mac:hexhyp}.ipxe`);

  if (requireTool(t, 'atftp')) {
    const dir = tempDir(t, 'fwire-tftp-');
    const tftp = async (remote: string) => {
      const local = join(dir, remote.replace(/\//g, '_'));
      await run('atftp', ['--option', 'blksize 1428', '-g', '-r', remote, '-l', local, '127.0.0.1', String(config.tftpPort)]);
      return readFileSync(local);
    };
    t.ok((await tftp(`${HEXHYP}.ipxe`)).equals(script), 'TFTP and HTTP serve identical bytes');
    t.equal((await api('POST', `/api/v1/machines/${uuid}/bootenv`, { bootenv: 'wire-b' })).status, 200);
    const after = await tftp(`${HEXHYP}.ipxe`);
    t.match(after.toString(), 'marker=B', 'the bootenv change shows in the very next TFTP fetch');
    t.ok(after.equals(await fetchHttp(`${HEXHYP}.ipxe`)), '… and over HTTP, identically');
  }

  t.equal((await api('POST', `/api/v1/machines/${uuid}/bootenv`, { bootenv: 'local' })).status, 200);
  const local = await w.ask(pxe(DISCOVER));
  t.equal(local?.type, OFFER, 'still an address …');
  t.equal(local?.file, '', '… but no boot file once the machine boots local (machine change, next packet)');
  t.equal((await api('POST', `/api/v1/machines/${uuid}/bootenv`, { bootenv: 'wire-a' })).status, 200);
  t.equal((await w.ask(pxe(DISCOVER)))?.file, 'undionly.kpxe', 'and netboots again after the next change');

  t.equal((await api('PATCH', '/api/v1/subnets/lo', { options: [{ code: 67, value: 'custom.kpxe' }] }, 'application/merge-patch+json')).status, 200);
  t.equal((await w.ask(pxe(DISCOVER)))?.file, 'custom.kpxe', 'a subnet option 67 set through the API applies to the next packet');

  const stranger = '52:54:00:3a:00:02';
  t.equal((await w.ask(pxe(DISCOVER, [], stranger)))?.file, '', 'unknown machine, unknownBootEnv ignore: no boot file');
  t.equal((await api('PATCH', '/api/v1/prefs', { unknownBootEnv: 'discovery' }, 'application/merge-patch+json')).status, 200);
  t.equal((await w.ask(pxe(DISCOVER, [], stranger)))?.file, 'custom.kpxe', 'after the prefs change the unknown machine is booted');

  t.equal((await api('POST', '/api/v1/reservations', { address: '127.0.3.99', mac: stranger })).status, 201);
  t.equal((await w.ask(pxe(DISCOVER, [], stranger)))?.yiaddr, '127.0.3.99', 'a reservation created through the API applies to the next packet');

  const info = (await api('GET', '/api/v1/info')).body as { services: Record<string, { enabled: boolean; port: number; error?: string }>; loaders: Record<string, { package?: string }> };
  t.same(info.services.http, { enabled: true, port: http });
  t.same(info.services.tftp, { enabled: true, port: config.tftpPort });
  t.same(info.services.dhcp, { enabled: true, port: config.dhcpPort });
  t.match(info.loaders, { 'undionly.kpxe': { package: 'ipxe' }, 'lpxelinux.0': { package: 'pxelinux' } }, 'the loaders found (or missing) are listed');
});

t.test('a service that cannot bind is reported and the rest keeps serving', async (t) => {
  const { bindUdp, freeUdpPort } = await import('./helpers.js');
  const busyDhcp = await bindUdp(await freeUdpPort());
  const busyTftp = await bindUdp(await freeUdpPort(), '0.0.0.0');
  t.teardown(() => {
    busyDhcp.close();
    busyTftp.close();
  });
  const w = await startWhole(t, { dhcpPort: busyDhcp.address().port, tftpPort: busyTftp.address().port });
  const info = (await w.api('GET', '/api/v1/info')).body as { services: Record<string, { enabled: boolean; port: number; error?: string }> };
  t.match(info.services.dhcp.error, new RegExp(`DHCP: port ${busyDhcp.address().port} is already in use .*--dhcp-port`), 'DHCP bind failure with its remedy in /info');
  t.match(info.services.tftp.error, new RegExp(`TFTP: port ${busyTftp.address().port} is already in use .*--tftp-port`), 'TFTP bind failure with its remedy in /info');
  t.ok(w.logs.some((l) => l.includes('"service":"dhcp"') && l.includes('already in use')), 'one log line names the DHCP failure');
  t.equal((await fetch(`${w.daemon.url}/boot.ipxe`)).status, 200, 'HTTP boot files still serve');
});

t.test('pref autoRegister: a PXE client seen for the first time becomes a machine with its MAC and arch', async (t) => {
  const w = await startWhole(t, { tftpEnabled: false });
  const { api } = w;
  t.equal((await api('POST', '/api/v1/subnets', { name: 'lo', cidr: '127.0.0.0/16', activeStart: '127.0.4.10', activeEnd: '127.0.4.20' })).status, 201);
  t.equal((await api('PUT', '/api/v1/prefs', { autoRegister: true })).status, 200);
  const mac = '52:54:00:3a:00:09';
  const efi = (type: number, extra: Array<[number, Buffer | number[] | string]> = []) =>
    build({ type, mac, options: [[60, 'PXEClient:Arch:00011:UNDI:003000'], [93, [0, 11]], ...extra] });
  t.equal((await w.ask(efi(DISCOVER)))?.type, OFFER);
  const found = await eventually(() => api('GET', `/api/v1/machines?mac=${mac}`), (r) => Array.isArray(r.body) && r.body.length === 1);
  t.match(found.body, [{ name: 'auto-5254003a0009', macs: [mac], arch: 'arm64', bootenv: 'local' }], 'registered with the default bootenv');
  t.equal((await w.ask(efi(REQUEST, [[54, ipBytes('127.0.0.1')], [50, ipBytes('127.0.4.10')]])))?.type, ACK);
  const bound = await eventually(() => api('GET', `/api/v1/machines/mac:${mac}`), (r) => (r.body as { address?: string }).address === '127.0.4.10');
  t.equal((bound.body as { address: string }).address, '127.0.4.10', 'and its address follows the lease');
});

