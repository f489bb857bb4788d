/**
 * Farrier's TFTP server with real firmware PXE clients, in a test namespace: OVMF's own UEFI PXE stack
 * (tsize probe, then the fetch of ipxe.efi) and SeaBIOS → pxelinux, which loads its modules, its per-MAC
 * config, the kernel and the initramfs all over TFTP.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { bootAndCheck, requireBootLab, startBootLab } from '../../e2e/lib/bootLab.js';

t.test("UEFI: OVMF's PXE client loads ipxe.efi from Farrier's TFTP", async (t) => {
  if (!requireBootLab(t, { uefi: true })) return;
  const lab = await startBootLab(t, { tftp: 'farrier' });
  await bootAndCheck(t, lab, lab.addMachine(), { firmware: 'uefi', nic: 'virtio-net-pci', noRom: true });
  const efi = lab.tftp?.transfers().filter((e) => e.path === 'ipxe.efi') ?? [];
  const size = statSync(join(lab.root, 'ipxe.efi')).size;
  t.ok(efi.some((e) => e.outcome === 'complete' && e.bytes === size), `ipxe.efi (${size} bytes) was sent completely`);
  t.comment(`ipxe.efi transfers: ${JSON.stringify(efi.map((e) => ({ outcome: e.outcome, bytes: e.bytes, blockSize: e.blockSize, windowSize: e.windowSize, ms: e.durationMs })))}`);
});

t.test("BIOS: pxelinux loads its config, kernel and initramfs from Farrier's TFTP", async (t) => {
  if (!requireBootLab(t)) return;
  const lab = await startBootLab(t, { tftp: 'farrier', chain: 'pxelinux' });
  const machine = lab.addMachine();
  await bootAndCheck(t, lab, machine, { firmware: 'bios', nic: 'e1000' });
  const complete = (lab.tftp?.transfers() ?? []).filter((e) => e.outcome === 'complete').map((e) => e.path);
  for (const p of ['pxelinux.0', 'ldlinux.c32', `pxelinux.cfg/01-${machine.hyphenated}`, 'vmlinuz', 'initramfs.gz']) {
    t.ok(complete.includes(p), `${p} sent over TFTP`);
  }
  const kernel = lab.tftp?.transfers().find((e) => e.path === 'vmlinuz' && e.outcome === 'complete');
  t.equal(kernel?.bytes, statSync(join(lab.root, 'vmlinuz')).size, 'the whole kernel');
  t.comment(`kernel over TFTP: ${kernel?.bytes} bytes, blksize ${kernel?.blockSize}, window ${kernel?.windowSize}, ${kernel?.durationMs} ms`);
});
