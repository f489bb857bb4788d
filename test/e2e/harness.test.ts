/**
 * Proves the e2e harness (netns + bridge/TAP + RA helper, test initramfs, QEMU runner) with dnsmasq as the
 * DHCP/TFTP server and a Node HTTP server: a VM network-boots, runs its per-machine script fetched over
 * HTTP, prints a value only that machine has, posts a callback with its token and powers off.
 */
import t from 'tap';
import { bootAndCheck, requireBootLab, startBootLab } from './lib/bootLab.js';

t.test('BIOS: SeaBIOS + iPXE ROM boots the test initramfs over HTTP and runs the machine script', async (t) => {
  if (!requireBootLab(t)) return;
  const lab = await startBootLab(t, { tftp: 'dnsmasq' });
  await bootAndCheck(t, lab, lab.addMachine(), { firmware: 'bios', nic: 'e1000' });
  const paths = lab.http.requests().map((r) => r.path);
  t.ok(paths.includes('/vmlinuz') && paths.includes('/initramfs.gz'), 'kernel and initramfs came over HTTP');
});

t.test("UEFI: OVMF's own PXE fetches ipxe.efi over TFTP, then the same script runs", async (t) => {
  if (!requireBootLab(t, { uefi: true })) return;
  const lab = await startBootLab(t, { tftp: 'dnsmasq' });
  await bootAndCheck(t, lab, lab.addMachine(), { firmware: 'uefi', nic: 'virtio-net-pci', noRom: true });
});
