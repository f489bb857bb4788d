/**
 * Files on disk under the boot root, confined after resolving symlinks: a request can never leave the root,
 * whatever `..`, backslashes or links it uses.
 */
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

export type StaticResult =
  | {
      kind: 'file';
      path: string;
      size: number;
      mtime: Date;
      /** Changes whenever the file is replaced or written: inode, size, mtime, ctime. */
      version: string;
    }
  | { kind: 'missing'; reason: string };

/** The version of a file as fileContents.ts keys it. */
export const fileVersion = (st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string => `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export class StaticRoot {
  private rootReal: Promise<string | undefined>;

  constructor(readonly root: string) {
    this.rootReal = realpath(root).catch(() => undefined);
  }

  /** `rel` is a normalised tree path (no leading '/', no '..' segments). */
  async find(rel: string): Promise<StaticResult> {
    let rootReal = await this.rootReal;
    if (!rootReal) {
      // The root may be created after start (first upload); look again.
      this.rootReal = realpath(this.root).catch(() => undefined);
      rootReal = await this.rootReal;
      if (!rootReal) return { kind: 'missing', reason: `no file ${rel} (boot root ${this.root} does not exist)` };
    }
    let real: string;
    try {
      real = await realpath(join(rootReal, rel));
    } catch {
      return { kind: 'missing', reason: `no file ${rel} in the boot tree` };
    }
    if (!real.startsWith(rootReal + sep)) return { kind: 'missing', reason: `${rel} resolves outside the boot root` };
    const st = await stat(real);
    if (!st.isFile()) return { kind: 'missing', reason: `${rel} is not a file` };
    return { kind: 'file', path: real, size: st.size, mtime: st.mtime, version: fileVersion(st) };
  }
}
