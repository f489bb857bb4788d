import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { BootTree, BootTreeEntry } from './ports.js';

/**
 * A BootTree over one directory, for static files. Every lookup is confined to the directory after resolving
 * symlinks (realpath), so a link pointing outside the root is reported missing instead of being followed.
 */
export class DirectoryTree implements BootTree {
  private rootReal: Promise<string>;

  constructor(readonly root: string) {
    this.rootReal = realpath(root);
  }

  async lookup(path: string): Promise<BootTreeEntry> {
    const root = await this.rootReal;
    let real: string;
    try {
      real = await realpath(join(root, path));
    } catch {
      return { kind: 'missing', reason: `${path}: no such file under ${this.root}` };
    }
    if (!real.startsWith(root + sep)) return { kind: 'missing', reason: `${path}: resolves outside ${this.root}` };
    const st = await stat(real);
    if (!st.isFile()) return { kind: 'missing', reason: `${path}: not a regular file` };
    return { kind: 'file', path: real, size: st.size, name: path, mtimeMs: st.mtimeMs, ino: st.ino };
  }
}
