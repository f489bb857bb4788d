/**
 * The protocol layers of a full daemon, for startDaemon's `layers` option: the boot layer (its files over
 * HTTP at `/`, the render route, the loaders in /api/v1/info), TFTP over the same tree, and DHCP.
 * HTTP starts first, so boot URLs and DHCP boot-file choices carry the port HTTP really got.
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonLayers, LayerContext } from '../daemon.js';
import { bootFilesPlugin } from '../http/bootFiles.js';
import { createMetrics } from '../metrics/metrics.js';
import { TimelineRecorder } from '../timeline/recorder.js';
import { DaemonBootLayer } from './bootLayer.js';
import { type DhcpWiringOptions, dhcpService } from './dhcp.js';
import { tftpService } from './tftp.js';

export interface ProtocolOptions {
  dhcp?: DhcpWiringOptions;
}

export function protocolLayers(opts: ProtocolOptions = {}): (ctx: LayerContext) => DaemonLayers {
  return ({ config, services, bus, logger }) => {
    const boot = new DaemonBootLayer(services, config, logger);
    const dhcp = dhcpService(config, opts.dhcp);
    const metrics = createMetrics({ services, bus, dhcpCounters: () => dhcp.counters(), requireAuth: config.metricsAuth });
    const timeline = new TimelineRecorder({ store: services.store, bus, logger: logger.child({ service: 'timeline' }) });
    return {
      httpPlugins: [metrics.plugin, async (app: FastifyInstance) => app.register(bootFilesPlugin, { tree: boot, publish: (e) => bus.publish(e) })],
      render: boot,
      explain: boot,
      loaders: () => boot.info(),
      listening: (ctx) => void boot.start(ctx.httpPort),
      services: [tftpService(config, boot), dhcp],
      close: () => timeline.close(),
    };
  };
}
