/**
 * ISO images: uploaded to `<boot root>/isos/<name>`, checked against the `os.isoSha256` of the bootenvs whose
 * `os.isoFile` names them, and exploded with Debian's `bsdtar` (libarchive-tools) into `<boot root>/<os.name>/`,
 * where those bootenvs' kernel and initrds are looked up. Extraction goes to a staging directory that is then
 * renamed into place, so the boot tree never serves a half-extracted ISO.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { FarrierError } from '../errors.js';
import type { BootEnv } from '../model/types.js';
import type { Stored } from '../store/store.js';
import { FileDir, TEMP_PREFIX, checkRelPath } from './files.js';

/** Top-level boot-tree directories an ISO must never explode over. */
const RESERVED_DIRS = new Set(['files', 'isos', 'machines']);

export interface Iso {
  name: string;
  size: number;
  mtime: string;
  /** Bootenvs whose `os.isoFile` names this ISO. */
  bootenvs: string[];
}

export interface IsoUpload {
  name: string;
  size: number;
  sha256: string;
  /** One entry per `<os.name>/` directory the ISO was exploded into. */
  exploded: { directory: string; bootenvs: string[] }[];
}

/** What the ISO store needs of the bootenvs. */
export interface BootEnvLister {
  list(q: Record<string, never>): Promise<{ items: Stored<BootEnv>[] }>;
}

export interface IsoStoreOptions {
  /** The bsdtar binary (a name looked up in PATH, or a path). */
  bsdtar?: string;
}

async function findExecutable(cmd: string): Promise<string | undefined> {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  for (const c of candidates) {
    if (await access(c, constants.X_OK).then(() => true, () => false)) return c;
  }
  return undefined;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${stderr.trim()}`))));
  });
}

export function checkIsoName(name: string): void {
  const segs = checkRelPath(name);
  if (segs.length !== 1) throw new FarrierError('VALIDATION', `ISO name ${JSON.stringify(name)} must be a plain file name (no /)`, [{ field: 'name', message: 'must be a plain file name' }]);
}

export class IsoStore {
  private readonly dir: FileDir;

  constructor(
    /** The boot root (`<dataDir>/files`). */
    private readonly root: string,
    private readonly bootenvs: BootEnvLister,
    private readonly logger: Logger,
    private readonly opts: IsoStoreOptions = {},
  ) {
    this.dir = new FileDir(join(root, 'isos'), 'ISO');
  }

  private async users(name: string): Promise<Stored<BootEnv>[]> {
    return (await this.bootenvs.list({})).items.filter((e) => e.os?.isoFile === name);
  }

  private async bsdtar(): Promise<string> {
    const cmd = this.opts.bsdtar ?? 'bsdtar';
    const found = await findExecutable(cmd);
    if (!found) throw new FarrierError('UNAVAILABLE', `cannot explode ISOs: ${cmd} not found; install the Debian package libarchive-tools (apt-get install libarchive-tools)`);
    return found;
  }

  /** Stores the ISO, verifies it, and explodes it for every bootenv that names it. */
  async upload(name: string, body: Readable): Promise<IsoUpload> {
    checkIsoName(name);
    const users = await this.users(name);
    for (const env of users) {
      if (RESERVED_DIRS.has(env.os.name) || env.os.name.includes('/') || env.os.name.startsWith('.')) {
        throw new FarrierError('CONFLICT', `bootenv ${env.name}: os.name ${JSON.stringify(env.os.name)} cannot be a boot-tree directory for an exploded ISO`);
      }
    }
    // Fail before reading a multi-GB body when it could not be exploded anyway.
    const bsdtar = users.length > 0 ? await this.bsdtar() : undefined;
    const pinned = users.filter((e) => e.os.isoSha256);
    const stored = await this.dir.put(name, body, (s) => {
      const bad = pinned.filter((e) => e.os.isoSha256!.toLowerCase() !== s.sha256);
      if (bad.length === 0) return;
      const message = `ISO ${name}: sha256 ${s.sha256} does not match os.isoSha256 of ${bad.map((e) => `bootenv ${e.name} (${e.os.isoSha256})`).join(', ')}; the upload was discarded and nothing exploded`;
      throw new FarrierError('VALIDATION', message, [{ field: 'sha256', message: `does not match os.isoSha256 of ${bad.map((e) => e.name).join(', ')}` }], { sha256: s.sha256 });
    });
    const byDir = new Map<string, string[]>();
    for (const env of users) byDir.set(env.os.name, [...(byDir.get(env.os.name) ?? []), env.name]);
    const exploded: IsoUpload['exploded'] = [];
    for (const [directory, envs] of byDir) {
      await this.explode(bsdtar!, join(this.dir.dir, name), directory);
      this.logger.info({ iso: name, directory, bootenvs: envs }, 'ISO exploded into the boot tree');
      exploded.push({ directory, bootenvs: envs });
    }
    return { name, size: stored.size, sha256: stored.sha256, exploded };
  }

  private async explode(bsdtar: string, iso: string, directory: string): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const suffix = randomBytes(6).toString('hex');
    const staging = join(this.root, `${TEMP_PREFIX}explode-${suffix}`);
    const old = join(this.root, `${TEMP_PREFIX}old-${suffix}`);
    const target = join(this.root, directory);
    await mkdir(staging);
    try {
      await run(bsdtar, ['-xf', iso, '-C', staging]);
      // ISO9660 files and directories are read-only; a later re-explode must be able to remove them.
      await run('chmod', ['-R', 'u+rwX', staging]);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw new FarrierError('VALIDATION', `ISO ${iso} could not be extracted: ${(err as Error).message}`);
    }
    const hadOld = await stat(target).then(() => true, () => false);
    if (hadOld) await rename(target, old);
    await rename(staging, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
  }

  async list(): Promise<Iso[]> {
    const entries = (await this.dir.list('')).filter((e) => e.type === 'file');
    const envs = (await this.bootenvs.list({})).items;
    return entries.map((e) => ({ name: e.name, size: e.size, mtime: e.mtime, bootenvs: envs.filter((b) => b.os?.isoFile === e.name).map((b) => b.name) }));
  }

  /** Removes the ISO file; what it exploded into stays in the boot tree (machines may be booting from it). */
  async delete(name: string): Promise<Iso> {
    checkIsoName(name);
    const { mtime } = await this.dir.get(name);
    const { size } = await this.dir.delete(name);
    return { name, size, mtime: mtime.toISOString(), bootenvs: (await this.users(name)).map((b) => b.name) };
  }
}
