/**
 * Files on disk under the boot root, confined after resolving symlinks: a request can never leave the root,
 * whatever `..`, backslashes or links it uses.
 *
 * The realpath and stat of every lookup are synchronous system calls: on the local boot root they answer
 * from the kernel's dentry and inode caches in about 9 µs together, where the thread-pool versions cost
 * about 46 µs of CPU (promise and hand-off machinery) — 9 % of Farrier's CPU in the boot-storm profile.
 */
import { realpathSync, statSync } from 'node:fs';
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
  private rootReal: string | undefined;

  constructor(readonly root: string) {
    this.rootReal = realOrUndefined(root);
  }

  /** `rel` is a normalised tree path (no leading '/', no '..' segments). */
  async find(rel: string): Promise<StaticResult> {
    // The root may be created after start (first upload); look again until it exists.
    this.rootReal ??= realOrUndefined(this.root);
    const rootReal = this.rootReal;
    if (!rootReal) return { kind: 'missing', reason: `no file ${rel} (boot root ${this.root} does not exist)` };
    const real = realOrUndefined(join(rootReal, rel));
    if (real === undefined) return { kind: 'missing', reason: `no file ${rel} in the boot tree` };
    if (!real.startsWith(rootReal + sep)) return { kind: 'missing', reason: `${rel} resolves outside the boot root` };
    const st = statSync(real, { throwIfNoEntry: false });
    if (!st) return { kind: 'missing', reason: `no file ${rel} in the boot tree` };
    if (!st.isFile()) return { kind: 'missing', reason: `${rel} is not a file` };
    return { kind: 'file', path: real, size: st.size, mtime: st.mtime, version: fileVersion(st) };
  }
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}
