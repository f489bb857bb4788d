import { FarrierError } from '../errors.js';

/**
 * Turns the file name of a TFTP read request into the tree path the BootTree receives.
 * Firmware sends Windows-style (`pxelinux.cfg\01-…`) and absolute (`/boot/x`) names; both are accepted.
 * Traversal is rejected here, after the backslash translation, because the translation itself can create
 * `..` segments the tftp package's own check (done before) never saw.
 */
export function normaliseTftpPath(raw: string): string {
  if (raw.includes('\0')) throw new FarrierError('BAD_REQUEST', 'TFTP file name contains NUL');
  const segments = raw.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new FarrierError('BAD_REQUEST', `TFTP file name ${JSON.stringify(raw)} leaves the boot root`);
  if (segments.length === 0) throw new FarrierError('BAD_REQUEST', 'TFTP file name is empty');
  return segments.join('/');
}
