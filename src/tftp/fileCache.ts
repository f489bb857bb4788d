/**
 * Small files every machine fetches in a boot storm (undionly.kpxe, ipxe.efi, lpxelinux.0 …) kept in memory,
 * shared by all transfers: one read per file version instead of one per client. An entry is keyed by path,
 * size, mtime and inode and checked on every lookup, so a replaced or rewritten file is read afresh; the
 * total is bounded (least recently used entries go first).
 */
import { open, stat } from 'node:fs/promises';

export interface FileCacheLimits {
  /** Larger files are streamed from disk, never cached. */
  maxFileBytes: number;
  /** Bytes of all cached files together. */
  maxTotalBytes: number;
}

/** What identifies one version of a file; a tree that already stat()ed the file passes it along. */
export interface FileVersion {
  mtimeMs: number;
  ino: number;
}

interface Entry {
  version: string;
  data: Buffer;
}

const versionKey = (size: number, v: FileVersion): string => `${size}:${v.mtimeMs}:${v.ino}`;

export class FileCache {
  /** By path, in least-recently-used order (a hit moves its entry to the end). */
  private readonly entries = new Map<string, Entry>();
  /** Reads in progress by path and version: a storm of clients asking for a new file reads it once. */
  private readonly loading = new Map<string, Promise<Buffer | undefined>>();
  private total = 0;

  constructor(private readonly limits: FileCacheLimits) {}

  /** Bytes held by the cache. */
  get bytes(): number {
    return this.total;
  }

  /**
   * The content of the file at `path` if it is `size` bytes, small enough to cache and readable; undefined
   * means "stream it from disk instead" (too large, changed size since the lookup, or unreadable).
   */
  async get(path: string, size: number, known?: FileVersion): Promise<Buffer | undefined> {
    if (size > this.limits.maxFileBytes || size > this.limits.maxTotalBytes) return undefined;
    let version: FileVersion | undefined = known;
    if (!version) {
      const st = await stat(path).catch(() => undefined);
      if (!st || st.size !== size) return undefined;
      version = st;
    }
    const key = versionKey(size, version);
    const hit = this.entries.get(path);
    if (hit?.version === key) {
      this.entries.delete(path);
      this.entries.set(path, hit);
      return hit.data;
    }
    const loadKey = `${path}\0${key}`;
    let pending = this.loading.get(loadKey);
    if (!pending) {
      pending = this.load(path, size, key).finally(() => this.loading.delete(loadKey));
      this.loading.set(loadKey, pending);
    }
    return pending;
  }

  private async load(path: string, size: number, key: string): Promise<Buffer | undefined> {
    const file = await open(path, 'r').catch(() => undefined);
    if (!file) return undefined;
    try {
      const before = await file.stat();
      if (versionKey(before.size, before) !== key) return undefined;
      const data = Buffer.allocUnsafeSlow(size);
      for (let got = 0; got < size; ) {
        const { bytesRead } = await file.read(data, got, size - got, got);
        if (bytesRead === 0) return undefined;
        got += bytesRead;
      }
      // rewritten while being read: serve nothing half old, half new from the cache
      const after = await file.stat();
      if (versionKey(after.size, after) !== key) return undefined;
      this.store(path, key, data);
      return data;
    } catch {
      return undefined;
    } finally {
      await file.close().catch(() => {});
    }
  }

  private store(path: string, version: string, data: Buffer): void {
    const old = this.entries.get(path);
    if (old) {
      this.entries.delete(path);
      this.total -= old.data.length;
    }
    this.entries.set(path, { version, data });
    this.total += data.length;
    for (const [p, e] of this.entries) {
      if (this.total <= this.limits.maxTotalBytes) break;
      this.entries.delete(p);
      this.total -= e.data.length;
    }
  }
}
