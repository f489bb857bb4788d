/**
 * The PXE decision: given what a client said in its DHCP request and what Farrier knows about it, whether to
 * send boot options and which. Pure (no I/O) so the whole table is tested directly (test/boot/decide.test.ts)
 * and the DHCP and proxyDHCP servers share it.
 */

/** Loader file names as served from the boot tree (TFTP root and HTTP /). */
export const LOADERS = {
  biosIpxe: 'undionly.kpxe',
  biosPxelinux: 'lpxelinux.0',
  efiIpxe: 'ipxe.efi',
  efiSnp: 'snponly.efi',
  arm64Ipxe: 'ipxe-arm64.efi',
  script: 'boot.ipxe',
} as const;

export interface BootRequestFacts {
  /** Option 60, e.g. `PXEClient:Arch:00007:UNDI:003016` or `HTTPClient:Arch:00016`. */
  vendorClass?: string;
  /** First value of option 93 (RFC 4578 client architecture). */
  arch?: number;
  /** Option 77 as text (iPXE sends `iPXE`). */
  userClass?: string;
  /** Option 175 present (only iPXE sends it). */
  ipxeFeatures: boolean;
  /** Option 55. */
  prl: number[];
}

export interface BootDecisionInput {
  request: BootRequestFacts;
  /** The machine owning the client's MAC, if any. */
  machine?: { uuid: string; bootenv: string };
  /** The bootenv to boot: the machine's, or for an unknown machine the `unknownBootEnv` pref's; undefined if missing. */
  bootenv?: { name: string; netboot?: boolean; loader?: 'ipxe' | 'pxelinux' | 'grub' };
  prefs: { unknownBootEnv?: string; efiLoader?: string };
  /** Explicit option 67 / next-server from the reservation and the subnet (undefined = not set). */
  reservationBootFile?: string;
  subnetBootFile?: string;
  reservationNextServer?: string | null;
  subnetNextServer?: string | null;
  /** Our address on the arrival interface (or the relay's subnet) and the HTTP port. */
  serverAddress: string;
  httpPort: number;
}

export interface BootDecision {
  sendBootOptions: boolean;
  /** BOOTP next-server. */
  siaddr: string;
  /** Boot file for BOOTP `file` and option 67 ('' when not booting). */
  file: string;
  /** TFTP server name for BOOTP `sname` / option 66, when the file comes over TFTP. */
  sname?: string;
  /** Option 60 to send back (`PXEClient` or `HTTPClient`). */
  option60?: string;
  reason: string;
}

const NON_NETBOOT = new Set(['local', 'ignore']);

const noBoot = (reason: string): BootDecision => ({ sendBootOptions: false, siaddr: '0.0.0.0', file: '', reason });

export function isIpxe(r: BootRequestFacts): boolean {
  return r.userClass === 'iPXE' || r.ipxeFeatures;
}

function isHttpBoot(r: BootRequestFacts): boolean {
  return r.vendorClass?.startsWith('HTTPClient') === true || r.arch === 16 || r.arch === 19;
}

/** A client that netboots: PXE ROM, UEFI HTTP boot, or iPXE. */
export function isBootClient(r: BootRequestFacts): boolean {
  return r.vendorClass?.startsWith('PXEClient') === true || isHttpBoot(r) || isIpxe(r);
}

export function decideBoot(input: BootDecisionInput): BootDecision {
  const { request: r, machine, bootenv, prefs } = input;
  if (!isBootClient(r)) return noBoot('not a PXE, HTTP-boot or iPXE client');
  const explicitFile = input.reservationBootFile ?? input.subnetBootFile;
  if (explicitFile === '') return noBoot(`option 67 set empty on the ${input.reservationBootFile !== undefined ? 'reservation' : 'subnet'}`);
  if (!machine && (prefs.unknownBootEnv ?? 'ignore') === 'ignore') return noBoot('unknown machine and unknownBootEnv is ignore');
  if (!bootenv) return noBoot(`bootenv ${machine ? machine.bootenv : prefs.unknownBootEnv} not found`);
  if (bootenv.netboot === false || NON_NETBOOT.has(bootenv.name)) return noBoot(`bootenv ${bootenv.name} does not netboot`);

  const siaddr = input.reservationNextServer || input.subnetNextServer || input.serverAddress;
  const http = `http://${input.serverAddress}:${input.httpPort}`;
  const tftp = (file: string, reason: string, option60?: string): BootDecision => ({
    sendBootOptions: true,
    siaddr,
    file,
    sname: siaddr,
    reason,
    ...(option60 ? { option60 } : {}),
  });

  // QEMU's and many flashed NIC ROMs are iPXE: a BIOS machine whose bootenv asks for pxelinux gets it from
  // them too (no loop: pxelinux is not iPXE). Over TFTP, where pxelinux finds its config beside itself.
  if (isIpxe(r) && bootenv.loader === 'pxelinux' && (r.arch ?? 0) === 0) {
    return tftp(LOADERS.biosPxelinux, 'BIOS iPXE ROM, bootenv asks for pxelinux', 'PXEClient');
  }
  if (isIpxe(r)) {
    return { sendBootOptions: true, siaddr, file: `${http}/${LOADERS.script}`, option60: 'PXEClient', reason: 'iPXE client: boot script over HTTP' };
  }
  if (explicitFile !== undefined) {
    const from = input.reservationBootFile !== undefined ? 'reservation' : 'subnet';
    if (/^https?:\/\//.test(explicitFile)) {
      return { sendBootOptions: true, siaddr, file: explicitFile, option60: isHttpBoot(r) ? 'HTTPClient' : 'PXEClient', reason: `option 67 from the ${from}` };
    }
    return tftp(explicitFile, `option 67 from the ${from}`, 'PXEClient');
  }
  if (isHttpBoot(r)) {
    const file = r.arch === 19 ? LOADERS.arm64Ipxe : LOADERS.efiIpxe;
    return { sendBootOptions: true, siaddr, file: `${http}/${file}`, option60: 'HTTPClient', reason: `UEFI HTTP boot (arch ${r.arch ?? '?'})` };
  }
  switch (r.arch ?? 0) {
    case 0:
      return bootenv.loader === 'pxelinux'
        ? tftp(LOADERS.biosPxelinux, 'BIOS PXE, bootenv asks for pxelinux', 'PXEClient')
        : tftp(LOADERS.biosIpxe, 'BIOS PXE: chain to iPXE', 'PXEClient');
    case 6:
    case 7:
    case 9:
      return prefs.efiLoader === LOADERS.efiSnp
        ? tftp(LOADERS.efiSnp, `x86 UEFI PXE (arch ${r.arch}): snponly by pref`, 'PXEClient')
        : tftp(LOADERS.efiIpxe, `x86 UEFI PXE (arch ${r.arch}): chain to iPXE`, 'PXEClient');
    case 11:
      return tftp(LOADERS.arm64Ipxe, 'arm64 UEFI PXE: chain to iPXE', 'PXEClient');
    default:
      return noBoot(`no loader for client architecture ${r.arch}`);
  }
}
