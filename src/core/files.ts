/**
 * Uploaded files on disk under a directory of the boot root (`<boot root>/files` for the files API,
 * `<boot root>/isos` for ISOs). A body is streamed to a temp name in the target directory while its sha256
 * is computed, then renamed into place, so a reader never sees half a file and memory use does not grow
 * with the file size. Every path is confined to the directory: `..`, absolute paths, NUL and backslashes are
 * refused, and symlinks that lead out of it are not followed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FarrierError } from '../errors.js';

export interface StoredFile {
  /** Path relative to the store's directory. */
  path: string;
  size: number;
  sha256: string;
}

export interface FileEntry {
  name: string;
  size: number;
  mtime: string;
  type: 'file' | 'directory';
}

/** Temp names start with this; they are hidden from listings and cleaned up on failure. */
export const TEMP_PREFIX = '.farrier-upload-';

const badPath = (path: string, why: string): FarrierError =>
  new FarrierError('VALIDATION', `path ${JSON.stringify(path)} ${why}`, [{ field: 'path', message: why }]);

/** Checks a client-supplied relative path and returns its segments. */
export function checkRelPath(path: string, opts: { allowEmpty?: boolean } = {}): string[] {
  if (path === '' && opts.allowEmpty) return [];
  if (path === '') throw badPath(path, 'is empty');
  if (path.includes('\0')) throw badPath(path, 'contains a NUL byte');
  if (path.includes('\\')) throw badPath(path, 'contains a backslash');
  if (path.startsWith('/')) throw badPath(path, 'is absolute; give a path relative to the files root');
  const segs = path.replace(/\/+$/, '').split('/');
  if (segs.includes('..')) throw badPath(path, 'climbs out of the files root (..)');
  if (segs.some((s) => s === '' || s === '.')) throw badPath(path, 'has an empty or "." segment');
  if (segs.some((s) => s.startsWith(TEMP_PREFIX))) throw badPath(path, `names a temporary upload (${TEMP_PREFIX}*)`);
  // Filesystem limits (NAME_MAX, and PATH_MAX with the data dir in front) answered as a bad path, not as ENAMETOOLONG.
  if (segs.some((s) => Buffer.byteLength(s) > 255)) throw badPath(path, 'has a segment longer than 255 bytes');
  if (Buffer.byteLength(path) > 1024) throw badPath(path, 'is longer than 1024 bytes');
  return segs;
}

/** Counts bytes and hashes them on the way through. */
class Digest extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    this.push(chunk);
    cb();
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

export class FileDir {
  constructor(
    /** Absolute directory the paths are relative to. */
    readonly dir: string,
    /** What the objects are called in messages ("file", "ISO"). */
    private readonly noun = 'file',
  ) {}

  /** The absolute path of `rel`, after checking that it and its existing ancestors stay inside the directory. */
  private async resolve(rel: string, opts: { allowEmpty?: boolean } = {}): Promise<string> {
    const segs = checkRelPath(rel, opts);
    await mkdir(this.dir, { recursive: true });
    const rootReal = await realpath(this.dir);
    let cur = rootReal;
    for (const s of segs) {
      cur = join(cur, s);
      const real = await realpath(cur).catch(() => undefined);
      if (real === undefined) break;
      if (real !== rootReal && !real.startsWith(rootReal + sep)) throw badPath(rel, 'leads out of the files root through a symlink');
    }
    return join(rootReal, ...segs);
  }

  /**
   * Streams `body` to `rel` (parents created), replacing any existing file atomically. `verify` sees the
   * finished upload before the rename; when it throws, the temp file is removed and any old file stays.
   */
  async put(rel: string, body: Readable, verify?: (stored: StoredFile) => void): Promise<StoredFile> {
    const target = await this.resolve(rel);
    const existing = await stat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw new FarrierError('CONFLICT', `${rel} is a directory; cannot store a ${this.noun} there`);
    await mkdir(dirname(target), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST' || err.code === 'ENOTDIR') throw new FarrierError('CONFLICT', `a parent of ${rel} is a file, not a directory`);
      throw err;
    });
    const tmp = join(dirname(target), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    const digest = new Digest();
    try {
      await pipeline(body, digest, createWriteStream(tmp, { flags: 'wx' }));
      const stored = { path: rel, size: digest.size, sha256: digest.hex() };
      verify?.(stored);
      await rename(tmp, target);
      return stored;
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** The file's absolute path and stat; 404 when absent or not a regular file. */
  async get(rel: string): Promise<{ abs: string; size: number; mtime: Date }> {
    const abs = await this.resolve(rel);
    const st = await stat(abs).catch(() => undefined);
    if (!st?.isFile()) throw new FarrierError('NOT_FOUND', `${this.noun} ${JSON.stringify(rel)} not found`);
    return { abs, size: st.size, mtime: st.mtime };
  }

  async delete(rel: string): Promise<{ path: string; size: number }> {
    const { abs, size } = await this.get(rel);
    await unlink(abs);
    return { path: rel, size };
  }

  /** Entries of directory `rel` ('' for the root), sorted by name; temp files of running uploads are hidden. */
  async list(rel: string): Promise<FileEntry[]> {
    const abs = await this.resolve(rel, { allowEmpty: true });
    const st = await stat(abs).catch(() => undefined);
    if (!st) throw new FarrierError('NOT_FOUND', `directory ${JSON.stringify(rel)} not found`);
    if (!st.isDirectory()) throw new FarrierError('BAD_REQUEST', `${rel} is a ${this.noun}, not a directory`);
    const out: FileEntry[] = [];
    for (const name of (await readdir(abs)).sort()) {
      if (name.startsWith(TEMP_PREFIX)) continue;
      const s = await stat(join(abs, name)).catch(() => lstat(join(abs, name)));
      out.push({ name, size: s.isDirectory() ? 0 : s.size, mtime: s.mtime.toISOString(), type: s.isDirectory() ? 'directory' : 'file' });
    }
    return out;
  }
}
