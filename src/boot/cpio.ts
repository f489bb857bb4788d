/**
 * A minimal "newc" (SVR4, no CRC) cpio writer: the format the Linux kernel unpacks from every initrd it is
 * given, so a small per-machine archive appended after the OS's own initrd adds files to its root.
 */

export interface CpioFile {
  /** Path inside the archive, relative (`etc/hostname`); a leading '/' is dropped. */
  path: string;
  data: Buffer;
  /** Permission bits, default 0o644. */
  mode?: number;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function header(ino: number, mode: number, size: number, nameSize: number, mtime: number, nlink: number): string {
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return '070701' + [ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, nameSize, 0].map(hex).join('');
}

const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function entry(parts: Buffer[], ino: number, name: string, mode: number, data: Buffer, mtime: number, nlink: number): void {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const head = Buffer.from(header(ino, mode, data.length, nameBuf.length, mtime, nlink), 'ascii');
  parts.push(head, nameBuf, pad4(head.length + nameBuf.length), data, pad4(data.length));
}

/**
 * Builds the archive: parent directories first (the kernel does not create missing parents), then the
 * files, then the trailer; the result is padded to 512 bytes like cpio(1) output.
 */
export function buildCpio(files: CpioFile[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  let ino = 1;
  const clean = files.map((f) => ({ ...f, path: f.path.replace(/^\/+/, '').replace(/\/+$/, '') }));
  for (const f of clean) {
    const segments = f.path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      entry(parts, ino++, dir, S_IFDIR | 0o755, Buffer.alloc(0), mtime, 2);
    }
  }
  for (const f of clean) entry(parts, ino++, f.path, S_IFREG | (f.mode ?? 0o644), f.data, mtime, 1);
  entry(parts, 0, 'TRAILER!!!', 0, Buffer.alloc(0), 0, 1);
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
