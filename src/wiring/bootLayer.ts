/**
 * The boot layer as the daemon holds it. Its URLs carry the HTTP port machines must reach, which is known
 * only once HTTP listens (`--http-port 0`), while the HTTP plugin and the render route must exist before
 * that. So the HTTP side gets this stable object, and the layer itself is built when HTTP is listening.
 */
import type { Logger } from 'pino';
import type { MachineRenderer } from '../api/render.js';
import { type BootLayer, createBootLayer } from '../boot/index.js';
import type { TreeClient, TreeEntry } from '../boot/tree.js';
import type { Config } from '../config.js';
import type { Services } from '../core/services.js';
import { FarrierError } from '../errors.js';
import type { BootFileTree } from '../http/bootFiles.js';

export class DaemonBootLayer implements BootFileTree, MachineRenderer {
  private layer?: BootLayer;

  constructor(
    private readonly services: Services,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  /** Builds the layer with the port HTTP really listens on. */
  start(httpPort: number): BootLayer {
    this.layer ??= createBootLayer(this.services, { ...this.config, httpPort }, this.logger);
    return this.layer;
  }

  private get running(): BootLayer {
    if (!this.layer) throw new FarrierError('UNAVAILABLE', 'the boot layer is still starting; retry in a moment');
    return this.layer;
  }

  lookup(path: string, client: TreeClient): Promise<TreeEntry> {
    return this.running.tree.lookup(path, client);
  }

  provisionerUrl(client: TreeClient): string {
    return this.running.tree.provisionerUrl(client);
  }

  renderForMachine(uuid: string, path: string, provisionerUrl: string): Promise<TreeEntry> {
    return this.running.tree.renderForMachine(uuid, path, provisionerUrl);
  }

  /** Loader discovery for GET /api/v1/info. */
  info(): Record<string, unknown> {
    return this.layer?.info() ?? {};
  }
}
