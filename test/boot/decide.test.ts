/** The PXE decision table, row by row. */
import t from 'tap';
import { decideBoot, type BootDecisionInput, type BootRequestFacts } from '../../src/boot/decide.js';

const pxe = (arch: number, extra: Partial<BootRequestFacts> = {}): BootRequestFacts => ({
  vendorClass: `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`,
  arch,
  ipxeFeatures: false,
  prl: [1, 3, 66, 67],
  ...extra,
});

const base = (request: BootRequestFacts, over: Partial<BootDecisionInput> = {}): BootDecisionInput => ({
  request,
  machine: { uuid: 'u1', bootenv: 'debian-12' },
  bootenv: { name: 'debian-12' },
  prefs: { unknownBootEnv: 'ignore' },
  serverAddress: '10.0.0.1',
  httpPort: 8091,
  ...over,
});

interface Row {
  name: string;
  input: BootDecisionInput;
  send: boolean;
  file?: string;
  siaddr?: string;
  option60?: string;
  sname?: string;
}

const rows: Row[] = [
  { name: 'BIOS (arch 0) → undionly.kpxe over TFTP', input: base(pxe(0)), send: true, file: 'undionly.kpxe', siaddr: '10.0.0.1', option60: 'PXEClient', sname: '10.0.0.1' },
  { name: 'BIOS with a pxelinux bootenv → lpxelinux.0', input: base(pxe(0), { bootenv: { name: 'c7', loader: 'pxelinux' } }), send: true, file: 'lpxelinux.0' },
  { name: 'x86 UEFI arch 6 → ipxe.efi', input: base(pxe(6)), send: true, file: 'ipxe.efi' },
  { name: 'x86-64 UEFI arch 7 → ipxe.efi', input: base(pxe(7)), send: true, file: 'ipxe.efi' },
  { name: 'x86-64 UEFI arch 9 → ipxe.efi', input: base(pxe(9)), send: true, file: 'ipxe.efi' },
  { name: 'x86-64 UEFI with pref efiLoader snponly.efi', input: base(pxe(7), { prefs: { efiLoader: 'snponly.efi' } }), send: true, file: 'snponly.efi' },
  { name: 'arm64 UEFI arch 11 → arm64 iPXE', input: base(pxe(11)), send: true, file: 'ipxe-arm64.efi' },
  {
    name: 'x64 UEFI HTTP boot (arch 16) → full URL + HTTPClient',
    input: base({ vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', arch: 16, ipxeFeatures: false, prl: [] }),
    send: true,
    file: 'http://10.0.0.1:8091/ipxe.efi',
    option60: 'HTTPClient',
  },
  {
    name: 'arm64 UEFI HTTP boot (arch 19) → arm64 URL + HTTPClient',
    input: base({ vendorClass: 'HTTPClient:Arch:00019:UNDI:003001', arch: 19, ipxeFeatures: false, prl: [] }),
    send: true,
    file: 'http://10.0.0.1:8091/ipxe-arm64.efi',
    option60: 'HTTPClient',
  },
  { name: 'iPXE (option 77 = iPXE) → boot.ipxe over HTTP', input: base(pxe(0, { userClass: 'iPXE' })), send: true, file: 'http://10.0.0.1:8091/boot.ipxe' },
  { name: 'iPXE detected by option 175 alone', input: base(pxe(7, { ipxeFeatures: true })), send: true, file: 'http://10.0.0.1:8091/boot.ipxe' },
  { name: 'iPXE is never handed an iPXE binary, even with a subnet option 67', input: base(pxe(0, { userClass: 'iPXE' }), { subnetBootFile: 'undionly.kpxe' }), send: true, file: 'http://10.0.0.1:8091/boot.ipxe' },
  {
    name: 'BIOS iPXE ROM with a pxelinux bootenv → lpxelinux.0 over TFTP',
    input: base(pxe(0, { userClass: 'iPXE', ipxeFeatures: true }), { bootenv: { name: 'c7', loader: 'pxelinux' } }),
    send: true,
    file: 'lpxelinux.0',
    sname: '10.0.0.1',
  },
  { name: 'UEFI iPXE with a pxelinux bootenv still gets boot.ipxe', input: base(pxe(7, { userClass: 'iPXE' }), { bootenv: { name: 'c7', loader: 'pxelinux' } }), send: true, file: 'http://10.0.0.1:8091/boot.ipxe' },
  { name: 'known machine in bootenv local → address only', input: base(pxe(0), { machine: { uuid: 'u1', bootenv: 'local' }, bootenv: { name: 'local' } }), send: false },
  { name: 'bootenv with netboot false → no boot options', input: base(pxe(7), { bootenv: { name: 'disk', netboot: false } }), send: false },
  { name: 'known machine whose bootenv is missing → no boot options', input: base(pxe(0), { bootenv: undefined }), send: false },
  { name: 'unknown machine, unknownBootEnv ignore → no boot options', input: base(pxe(0), { machine: undefined, bootenv: undefined }), send: false },
  {
    name: 'unknown machine, unknownBootEnv discovery → boots discovery',
    input: base(pxe(7), { machine: undefined, bootenv: { name: 'discovery' }, prefs: { unknownBootEnv: 'discovery' } }),
    send: true,
    file: 'ipxe.efi',
  },
  { name: 'not a PXE client (plain DHCP) → no boot options', input: base({ ipxeFeatures: false, prl: [1, 3, 6] }), send: false },
  { name: 'subnet option 67 empty → never PXE boot', input: base(pxe(0), { subnetBootFile: '' }), send: false },
  { name: 'reservation option 67 empty beats a subnet file', input: base(pxe(0), { subnetBootFile: 'x.0', reservationBootFile: '' }), send: false },
  { name: 'subnet option 67 → that file', input: base(pxe(0), { subnetBootFile: 'custom.kpxe' }), send: true, file: 'custom.kpxe' },
  { name: 'reservation option 67 beats the subnet', input: base(pxe(0), { subnetBootFile: 'a.kpxe', reservationBootFile: 'b.kpxe' }), send: true, file: 'b.kpxe' },
  { name: 'next server: subnet over ours', input: base(pxe(0), { subnetNextServer: '10.0.0.5' }), send: true, siaddr: '10.0.0.5', sname: '10.0.0.5' },
  { name: 'next server: reservation over subnet', input: base(pxe(0), { subnetNextServer: '10.0.0.5', reservationNextServer: '10.0.0.6' }), send: true, siaddr: '10.0.0.6' },
  { name: 'unknown architecture → no boot options', input: base(pxe(42)), send: false },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const d = decideBoot(row.input);
    t.equal(d.sendBootOptions, row.send, 'send boot options');
    t.ok(d.reason.length > 0, 'a reason is given');
    if (!row.send) {
      t.equal(d.file, '', 'no file');
      return;
    }
    if (row.file !== undefined) t.equal(d.file, row.file, 'boot file');
    if (row.siaddr !== undefined) t.equal(d.siaddr, row.siaddr, 'next server');
    if (row.option60 !== undefined) t.equal(d.option60, row.option60, 'option 60');
    if (row.sname !== undefined) t.equal(d.sname, row.sname, 'sname');
    if (d.file.startsWith('http')) t.equal(d.sname, undefined, 'no TFTP server name for an HTTP URL');
  });
}
