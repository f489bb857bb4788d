/**
 * PXE on the wire: each architecture / user-class row of the decision table as a real DISCOVER over loopback,
 * checked in BOOTP siaddr/file and options 66/67/60; proxyDHCP on 67 and the 4011 follow-up; autoRegister.
 */
import t from 'tap';
import { SERVER_IP, startHarness, udp, Inbox } from './helpers/harness.js';
import { build, DISCOVER, OFFER, ACK, optText, REQUEST } from './helpers/packets.js';
import { subnet } from './helpers/storeDirectory.js';

const KNOWN = '52:54:00:cc:00:01';
const LOCAL = '52:54:00:cc:00:02';
const PXELINUX = '52:54:00:cc:00:03';

const setup = {
  subnets: [subnet('lan', '127.0.0.0/16', '127.0.1.10', '127.0.1.60')],
  machines: [
    { uuid: 'aaaaaaaa-0000-4000-8000-000000000001', macs: [KNOWN], bootenv: 'debian-12' },
    { uuid: 'aaaaaaaa-0000-4000-8000-000000000002', macs: [LOCAL], bootenv: 'local' },
    { uuid: 'aaaaaaaa-0000-4000-8000-000000000003', macs: [PXELINUX], bootenv: 'centos-7' },
  ],
  bootenvs: [{ name: 'debian-12' }, { name: 'local', netboot: false }, { name: 'centos-7', loader: 'pxelinux' as const }, { name: 'discovery' }],
  prefs: { unknownBootEnv: 'ignore' },
};

const pxeOpts = (arch: number, vendor = 'PXEClient'): Array<[number, Buffer | number[] | string]> => [
  [55, [1, 3, 43, 60, 66, 67]],
  [60, `${vendor}:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`],
  [93, [arch >> 8, arch & 255]],
];

const http = `http://${SERVER_IP}:8091`;
const rows: Array<{ name: string; mac: string; opts: Array<[number, Buffer | number[] | string]>; file: string | null; option60?: string }> = [
  { name: 'BIOS arch 0', mac: KNOWN, opts: pxeOpts(0), file: 'undionly.kpxe', option60: 'PXEClient' },
  { name: 'BIOS arch 0, pxelinux bootenv', mac: PXELINUX, opts: pxeOpts(0), file: 'lpxelinux.0' },
  { name: 'UEFI arch 6', mac: KNOWN, opts: pxeOpts(6), file: 'ipxe.efi' },
  { name: 'UEFI arch 7', mac: KNOWN, opts: pxeOpts(7), file: 'ipxe.efi' },
  { name: 'UEFI arch 9', mac: KNOWN, opts: pxeOpts(9), file: 'ipxe.efi' },
  { name: 'arm64 UEFI arch 11', mac: KNOWN, opts: pxeOpts(11), file: 'ipxe-arm64.efi' },
  { name: 'HTTP boot arch 16', mac: KNOWN, opts: pxeOpts(16, 'HTTPClient'), file: `${http}/ipxe.efi`, option60: 'HTTPClient' },
  { name: 'HTTP boot arch 19', mac: KNOWN, opts: pxeOpts(19, 'HTTPClient'), file: `${http}/ipxe-arm64.efi`, option60: 'HTTPClient' },
  { name: 'iPXE user class', mac: KNOWN, opts: [...pxeOpts(0), [77, 'iPXE'], [175, [0xb1, 1, 1]]], file: `${http}/boot.ipxe` },
  { name: 'known machine, bootenv local', mac: LOCAL, opts: pxeOpts(7), file: null },
  { name: 'unknown machine, unknownBootEnv ignore', mac: '52:54:00:cc:00:99', opts: pxeOpts(7), file: null },
  { name: 'plain DHCP client', mac: KNOWN, opts: [[55, [1, 3, 6]]], file: null },
];

t.test('decision table rows on the wire', async (t) => {
  const h = await startHarness(t, setup);
  for (const row of rows) {
    const offer = await h.ask(build({ type: DISCOVER, mac: row.mac, options: row.opts }));
    t.equal(offer?.type, OFFER, `${row.name}: OFFER`);
    if (!offer) continue;
    t.not(offer.yiaddr, '0.0.0.0', `${row.name}: an address either way`);
    if (row.file === null) {
      t.equal(offer.file, '', `${row.name}: no BOOTP file`);
      t.notOk(offer.opts.has(67), `${row.name}: no option 67`);
      continue;
    }
    t.equal(offer.file, row.file, `${row.name}: BOOTP file`);
    t.equal(optText(offer, 67), row.file, `${row.name}: option 67`);
    t.equal(offer.siaddr, SERVER_IP, `${row.name}: siaddr`);
    if (!row.file.startsWith('http')) t.equal(optText(offer, 66), SERVER_IP, `${row.name}: option 66`);
    if (row.option60) t.equal(optText(offer, 60), row.option60, `${row.name}: option 60`);
  }
  t.ok(h.events.filter((e) => e.type === 'dhcp').length >= 9, 'boot decisions for known machines published as events');
});

t.test('autoRegister creates a machine on the first PXE DISCOVER', async (t) => {
  const h = await startHarness(t, { ...setup, prefs: { unknownBootEnv: 'discovery', autoRegister: true } });
  const mac = '52:54:00:cc:00:77';
  const offer = await h.ask(build({ type: DISCOVER, mac, options: pxeOpts(11) }));
  t.equal(offer?.file, 'ipxe-arm64.efi', 'boots the discovery env');
  const m = await h.store.findOne<{ arch: string; bootenv: string }>('machines', [{ path: ['macs'], value: mac }]);
  t.equal(m?.arch, 'arm64', 'registered with the arch from option 93');
  const plain = '52:54:00:cc:00:78';
  await h.ask(build({ type: DISCOVER, mac: plain, options: [[55, [1, 3]]] }));
  t.equal(await h.store.findOne('machines', [{ path: ['macs'], value: plain }]), undefined, 'a non-PXE client is not registered');
});

t.test('proxyDHCP: boot options without an address, only to PXE clients; 4011 follow-up ACKed', async (t) => {
  const h = await startHarness(t, {
    ...setup,
    subnets: [subnet('lan', '127.0.0.0/16', '127.0.1.10', '127.0.1.60', { proxy: true })],
  });
  const uuid = Buffer.from([0, ...Array.from({ length: 16 }, (_, i) => i)]);
  const disc = build({ type: DISCOVER, mac: KNOWN, options: [...pxeOpts(7), [97, uuid]] });
  const offer = await h.ask(disc);
  t.equal(offer?.type, OFFER);
  t.equal(offer?.yiaddr, '0.0.0.0', 'no address');
  t.equal(optText(offer!, 60), 'PXEClient');
  t.same([...(offer!.opts.get(43) ?? [])], [6, 1, 8, 255], 'option 43 discovery control');
  t.same(offer!.opts.get(97), uuid, 'option 97 echoed');
  t.equal(offer!.file, 'ipxe.efi');
  t.equal(offer!.siaddr, SERVER_IP, 'next server set (iPXE ignores proxy replies without it)');
  t.notOk(offer!.opts.has(51), 'no lease time');
  t.equal(await h.store.getLeaseByMac(KNOWN), undefined, 'nothing allocated');

  const plain = await h.ask(build({ type: DISCOVER, mac: KNOWN, options: [[55, [1, 3]]] }), 400);
  t.equal(plain, undefined, 'non-PXE client ignored');

  const fwSock = new Inbox(await udp('127.0.1.44', 0));
  t.teardown(() => fwSock.sock.close());
  const req = build({ type: REQUEST, mac: KNOWN, ciaddr: '127.0.1.44', options: [...pxeOpts(7), [97, uuid]] });
  fwSock.sock.send(req, h.proxyPort, SERVER_IP);
  const ack = await fwSock.next(req.readUInt32BE(4));
  t.equal(ack?.p.type, ACK, 'follow-up on the proxy port ACKed, to its source');
  t.equal(ack?.p.file, 'ipxe.efi');
  t.equal(ack?.p.yiaddr, '0.0.0.0');
});
