/** TFTP as a daemon service: the read-only server over the boot tree, each transfer an event on the bus. */
import type { DaemonContext, DaemonService } from '../daemon.js';
import type { TftpServer, TransferEvent } from '../tftp/server.js';
import { startTftpThread } from '../tftp/threaded.js';
import type { DaemonBootLayer } from './bootLayer.js';

export function tftpService(config: DaemonContext['config'], boot: DaemonBootLayer): DaemonService {
  let server: TftpServer | undefined;
  const svc: DaemonService = {
    name: 'TFTP',
    infoKey: 'tftp',
    port: config.tftpPort,
    portFlag: '--tftp-port',
    enabled: config.tftpEnabled,
    async start(ctx) {
      const publish = (e: TransferEvent): void =>
        ctx.bus.publish({
          time: new Date().toISOString(),
          type: 'tftp',
          action: e.outcome,
          key: e.path ?? e.file,
          object: { file: e.file, path: e.path, client: e.client.address, bytes: e.bytes, size: e.size, blockSize: e.blockSize, durationMs: e.durationMs, error: e.error },
        });
      // on its own thread: a lockstep transfer's next block must not wait behind DHCP, HTTP and rendering
      server = await startTftpThread({
        host: '0.0.0.0',
        port: ctx.config.tftpPort,
        tree: boot.start(ctx.httpPort).tree,
        blockSizeMax: ctx.config.tftpBlockSizeMax,
        windowSizeMax: ctx.config.tftpWindowSizeMax,
        maxTransfers: ctx.config.tftpMaxTransfers,
        maxTransfersPerClient: ctx.config.tftpMaxTransfersPerClient,
        logger: ctx.logger.child({ service: 'tftp' }),
        onTransfer: publish,
      });
      svc.port = server.port;
    },
    async stop(graceMs) {
      await server?.close(graceMs);
      server = undefined;
    },
  };
  return svc;
}
