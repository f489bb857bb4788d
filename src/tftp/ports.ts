/**
 * What the TFTP server needs from the rest of Farrier: a read-only boot tree. H-boot's virtual tree
 * (rendered per-machine files, then static files) implements it; DirectoryTree serves a plain directory.
 */

export interface TftpClient {
  address: string;
  port: number;
}

/** A file rendered into memory (templates): served with its exact length. */
export interface BufferEntry {
  kind: 'buffer';
  data: Buffer;
  /** Name for logs and events (e.g. the template id or the tree path). */
  name: string;
}

/** A file on disk: `size` is announced to the client (tsize) and exactly that many bytes are sent. */
export interface FileEntry {
  kind: 'file';
  /** Absolute path, already confined to the tree's root (realpath). */
  path: string;
  size: number;
  name: string;
  /** The file's mtime and inode from the tree's own stat(), when it has them: they validate the file cache. */
  mtimeMs?: number;
  ino?: number;
  /** The whole file, when the tree keeps it in memory itself: sent from there (`size` bytes of it). */
  data?: Buffer;
}

export interface MissingEntry {
  kind: 'missing';
  /** One line for logs; the client only sees "File not found". */
  reason: string;
}

export type BootTreeEntry = BufferEntry | FileEntry | MissingEntry;

export interface BootTree {
  /**
   * `path` is already normalised by the protocol layer: '/'-separated, relative (no leading '/'), no empty,
   * '.' or '..' segments, no NUL, backslashes translated. The tree must still confine symlinks to its root.
   * Rejections (render errors etc.) may throw; the client then gets a TFTP error and the failure is reported.
   */
  lookup(path: string, client: TftpClient): Promise<BootTreeEntry>;
}
