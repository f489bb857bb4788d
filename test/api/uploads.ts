/**
 * Setup for the upload tests: the API harness with a real boot root in a temp data dir, the real boot layer
 * over it (availability checks, the virtual tree) and the real boot-files HTTP plugin at `/`, so a test sees
 * an upload exactly as a booting machine would.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/app.js';
import { type BootLayer, bootRoot, createBootLayer } from '../../src/boot/index.js';
import { loadConfig } from '../../src/config.js';
import { bootFilesPlugin } from '../../src/http/bootFiles.js';
import { findTool, tempDir } from '../helpers/env.js';
import { type Harness, makeHarness } from './harness.js';

export interface UploadHarness extends Harness {
  dataDir: string;
  /** `<dataDir>/files`, the boot root. */
  root: string;
  layer: BootLayer;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export async function makeUploadHarness(t: Test, opts: { bsdtar?: string } = {}): Promise<UploadHarness> {
  const dataDir = tempDir(t, 'fuploads-');
  const config = loadConfig({ dataDir, httpPort: 0, httpHost: '127.0.0.1', tftpEnabled: false, dhcpEnabled: false, logLevel: 'silent' }, {});
  const root = bootRoot(config);
  let layer: BootLayer | undefined;
  const tree = { lookup: (path: string, client: { address: string; port: number }) => layer!.tree.lookup(path, client) };
  const h = await makeHarness(t, {
    files: { bootRoot: root, bsdtar: opts.bsdtar },
    plugins: [async (app: FastifyInstance) => void (await app.register(bootFilesPlugin, { tree, publish: () => undefined }))],
  });
  layer = createBootLayer(h.services, config, createLogger({ level: 'silent', format: 'json' }));
  return { ...h, dataDir, root, layer };
}

/** A real ISO9660 (Rock Ridge) image holding `files` (path → contents), built with xorriso. */
export function buildIso(t: Test, files: Record<string, Buffer>): Buffer {
  const dir = tempDir(t, 'fiso-src-');
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
  const out = join(tempDir(t, 'fiso-out-'), 'image.iso');
  execFileSync(findTool('xorriso')!, ['-as', 'mkisofs', '-quiet', '-R', '-V', 'FARRIER_TEST', '-o', out, dir], { stdio: 'ignore' });
  return readFileSync(out);
}

