/**
 * Boot files kept in memory. In a boot storm every machine fetches the same loader, kernel and initrd, and
 * each fetch from disk cost an open, a stat, a read per 64 KiB chunk (each a thread-pool hop and a fresh
 * buffer to collect) and a close on the event loop: about a quarter of Farrier's CPU in the 500-machine
 * storm profile (docs/performance.md). Here each file is read once and its Buffer is shared by every
 * HTTP transfer (and by TFTP when it runs in this thread; the daemon's TFTP thread keeps its own cache).
 *
 * An entry is valid for one version of the file: inode, size, mtime and ctime, from the stat the lookup
 * makes anyway, so a replaced or rewritten file is read again on its next request. Files above
 * `maxFileBytes` are never kept (they stream from disk); the total stays under `maxBytes`, least recently
 * used first out.
 */
import { readFile } from 'node:fs/promises';

interface Entry {
  version: string;
  size: number;
  data: Promise<Buffer>;
}

export class FileContents {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxFileBytes: number,
  ) {}

  /** Bytes held (files being read count already). */
  get size(): number {
    return this.bytes;
  }

  /**
   * The contents of `path` at `version` (of `size` bytes), or undefined when the file is not kept (too big,
   * empty, caching off). The promise rejects when the file no longer has that size (changed meanwhile).
   */
  get(path: string, size: number, version: string): Promise<Buffer> | undefined {
    if (size === 0 || size > this.maxFileBytes || size > this.maxBytes) return undefined;
    const hit = this.entries.get(path);
    if (hit) {
      this.drop(path, hit);
      if (hit.version === version) {
        // most recently used goes last
        this.entries.set(path, hit);
        this.bytes += hit.size;
        return hit.data;
      }
    }
    for (const [oldest, e] of this.entries) {
      if (this.bytes + size <= this.maxBytes) break;
      this.drop(oldest, e);
    }
    const entry: Entry = {
      version,
      size,
      data: readFile(path).then((data) => {
        if (data.length !== size) throw new Error(`${path} changed while being read (${data.length} bytes, expected ${size})`);
        return data;
      }),
    };
    this.entries.set(path, entry);
    this.bytes += size;
    entry.data.catch(() => {
      if (this.entries.get(path) === entry) this.drop(path, entry);
    });
    return entry.data;
  }

  private drop(path: string, entry: Entry): void {
    this.entries.delete(path);
    this.bytes -= entry.size;
  }
}
