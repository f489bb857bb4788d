/**
 * Starts the TFTP server on the given port and prints the outcome as JSON: run as an unprivileged user by
 * server.test.ts to see how a bind below 1024 without root is reported.
 * usage: node <ts loader> bindProbe.ts PORT
 */
import { tmpdir } from 'node:os';
import { DirectoryTree } from '../../../src/tftp/directoryTree.js';
import { startTftpServer } from '../../../src/tftp/server.js';

try {
  const srv = await startTftpServer({ host: '127.0.0.1', port: Number(process.argv[2]), tree: new DirectoryTree(tmpdir()) });
  await srv.close();
  process.stdout.write(JSON.stringify({ ok: true }));
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, code: (err as { code?: string }).code, message: (err as Error).message }));
}
