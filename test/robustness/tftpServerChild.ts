/**
 * Farrier's TFTP server in a child process for the robustness tests, so a crash shows as an exit the parent
 * sees. Serves a DirectoryTree; answers IPC `stats` with its counters, memory and open descriptors; exits 70
 * on an unhandled rejection (an uncaught exception kills it the normal way).
 * usage: fork(tftpServerChild.ts, [root, stallTimeoutMs, maxTransfers, maxTransfersPerClient, timeoutMs, retries])
 */
import { readdirSync } from 'node:fs';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import { startTftpServer } from '../../src/tftp/server.js';

if (!process.send) {
  // started without an IPC channel (e.g. a test runner given the whole directory): nothing to serve for
  process.stdout.write('tftpServerChild.ts is started by tftpHarness.ts; nothing to do on its own\n');
  process.exit(0);
}

const [root = '.', stall = '2000', maxTransfers = '1000', maxPerClient = '64', timeoutMs = '300', retries = '2'] = process.argv.slice(2);

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`unhandled rejection: ${String(reason)}\n`);
  process.exit(70);
});

const srv = await startTftpServer({
  host: '127.0.0.1',
  port: 0,
  tree: new DirectoryTree(root),
  timeoutMs: Number(timeoutMs),
  retries: Number(retries),
  stallTimeoutMs: Number(stall),
  maxTransfers: Number(maxTransfers),
  maxTransfersPerClient: Number(maxPerClient),
});

process.on('message', (msg: { cmd: string; id: number; gc?: boolean }) => {
  if (msg.cmd !== 'stats') return;
  // for memory figures: collect first, so they compare live objects rather than garbage not yet collected
  if (msg.gc) (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  process.send?.({ id: msg.id, counters: srv.counters(), rss: mem.rss, heapUsed: mem.heapUsed, fds: readdirSync('/proc/self/fd').length });
});
process.on('SIGTERM', () => void srv.close().then(() => process.exit(0)));
process.send?.({ ready: true, port: srv.port });
