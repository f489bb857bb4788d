/**
 * dnsmasq as a stand-in DHCP+TFTP server inside a test namespace, used to validate the boot harness before
 * Farrier's own DHCP/TFTP are wired. iPXE is recognised by user-class "iPXE" or option 175 and sent to an
 * HTTP boot script; PXE firmware gets undionly.kpxe (BIOS) or ipxe.efi/snponly.efi (x64 UEFI) over TFTP.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { tempDir } from '../../helpers/env.js';
import { listening, waitFor, type Netns, type NsProcess } from './netns.js';

export interface DnsmasqOptions {
  bridge: string;
  /** First and last address handed out, e.g. 10.215.0.100 / 10.215.0.200; netmask /24. */
  rangeStart: string;
  rangeEnd: string;
  tftpRoot: string;
  /** URL iPXE chains to. */
  ipxeScriptUrl: string;
  /** NBP for x64 UEFI PXE firmware (default ipxe.efi). */
  efiBootFile?: string;
  /** NBP for BIOS PXE firmware (default undionly.kpxe). */
  biosBootFile?: string;
  /** Give every client this boot file instead (e.g. pxelinux.0: QEMU's iPXE ROM then runs pxelinux). */
  everyoneBootFile?: string;
  /** false: DHCP only (next-server is still this address), for a TFTP server under test on port 69. */
  tftp?: boolean;
}

export interface Dnsmasq {
  process: NsProcess;
  logFile: string;
}

export async function startDnsmasq(t: Test, ns: Netns, opts: DnsmasqOptions): Promise<Dnsmasq> {
  const dir = tempDir(t, 'farrier-dnsmasq-');
  const conf = join(dir, 'dnsmasq.conf');
  const logFile = join(dir, 'dnsmasq.log');
  writeFileSync(
    conf,
    [
      'port=0', // no DNS
      `interface=${opts.bridge}`,
      'bind-interfaces',
      'user=root',
      'group=root',
      'pid-file=',
      `log-facility=${logFile}`,
      'log-dhcp',
      `dhcp-leasefile=${join(dir, 'leases')}`,
      `dhcp-range=${opts.rangeStart},${opts.rangeEnd},255.255.255.0,1h`,
      ...(opts.everyoneBootFile
        ? [`dhcp-boot=${opts.everyoneBootFile}`]
        : [
            'dhcp-userclass=set:ipxe,iPXE',
            'dhcp-match=set:ipxe,175',
            'dhcp-match=set:efi64,option:client-arch,7',
            'dhcp-match=set:efi64,option:client-arch,9',
            `dhcp-boot=tag:ipxe,${opts.ipxeScriptUrl}`,
            `dhcp-boot=tag:!ipxe,tag:efi64,${opts.efiBootFile ?? 'ipxe.efi'}`,
            `dhcp-boot=tag:!ipxe,tag:!efi64,${opts.biosBootFile ?? 'undionly.kpxe'}`,
          ]),
      ...(opts.tftp === false ? [] : ['enable-tftp', `tftp-root=${opts.tftpRoot}`]),
      '',
    ].join('\n'),
  );
  const proc = ns.spawn('dnsmasq', ['-k', `--conf-file=${conf}`], { logFile: join(dir, 'dnsmasq.stdout') });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitFor(async () => exited || (await listening(ns, 'udp', 67)), 10_000, 'dnsmasq on udp 67');
  if (exited) throw new Error(`dnsmasq exited at start; see ${logFile}`);
  return { process: proc, logFile };
}
