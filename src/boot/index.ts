/**
 * Assembles the boot layer for the daemon: loader discovery (warnings logged once, status for
 * GET /api/v1/info), the virtual boot tree over `<dataDir>/files`, and the bootenv availability check
 * (a bootenv is available when its kernel and initrds are in the tree).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Services } from '../core/services.js';
import type { BootEnv } from '../model/types.js';
import { bootenvFilePath } from './context.js';
import { bootDataFromServices } from './coreAdapter.js';
import { CachedBootData } from './dataCache.js';
import { FileContents } from './fileContents.js';
import { discoverLoaders, type LoaderSet } from './loaders.js';
import { RenderedOutputs } from './outputCache.js';
import { Renderer } from './render.js';
import { StaticRoot } from './staticFiles.js';
import { BootTree } from './tree.js';

export interface BootLayer {
  tree: BootTree;
  loaders: LoaderSet;
  /** For GET /api/v1/info `loaders`: loader name → {path, package, found, size?, warning?}. */
  info(): Record<string, unknown>;
}

/** The boot root: static files, exploded ISOs and uploads live under `<dataDir>/files`. */
export const bootRoot = (config: Pick<Config, 'dataDir'>): string => join(config.dataDir, 'files');

export function createBootLayer(services: Services, config: Config, logger: Logger): BootLayer {
  const loaders = discoverLoaders(config.loaderPaths);
  for (const w of loaders.warnings) logger.warn(w);
  const root = bootRoot(config);
  const data = new CachedBootData(bootDataFromServices(services), services.bus);
  const outputs = new RenderedOutputs(services.bus);
  const cacheBytes = config.bootFileCacheMb * 1024 * 1024;
  const contents = cacheBytes > 0 ? new FileContents(cacheBytes, Math.floor(cacheBytes / 4)) : undefined;
  const tree = new BootTree(data, new Renderer(data), { httpPort: config.httpPort, staticIp: config.staticIp }, loaders, new StaticRoot(root), outputs, contents);
  services.bootenvs.addCheck((env: BootEnv) => {
    const files = [env.kernel, ...env.initrds].filter((f) => f !== '');
    return files
      .map((f) => bootenvFilePath(env, f))
      .filter((p) => !existsSync(join(root, p)))
      .map((p) => `${p} is not in the boot tree (${join(root, p)})`);
  });
  return {
    tree,
    loaders,
    info: () => Object.fromEntries(loaders.status.map(({ name, ...rest }) => [name, rest])),
  };
}
