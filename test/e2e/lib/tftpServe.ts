/**
 * Farrier's TFTP server (src/tftp) over a directory, run as its own process inside a test namespace so real
 * firmware PXE clients can use it. Each transfer event is printed as one JSON line on stdout.
 * usage: node <ts loader> tftpServe.ts --host IP --port N --root DIR
 */
import { parseArgs } from 'node:util';
import { DirectoryTree } from '../../../src/tftp/directoryTree.js';
import { startTftpServer } from '../../../src/tftp/server.js';

const { values } = parseArgs({ options: { host: { type: 'string' }, port: { type: 'string' }, root: { type: 'string' } } });
const server = await startTftpServer({
  host: values.host ?? '0.0.0.0',
  port: Number(values.port ?? 69),
  tree: new DirectoryTree(values.root ?? '.'),
  onTransfer: (e) => process.stdout.write(JSON.stringify({ transfer: e }) + '\n'),
});
process.stdout.write(JSON.stringify({ listening: { host: server.host, port: server.port } }) + '\n');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
