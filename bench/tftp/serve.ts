/**
 * Farrier's TFTP server alone over one directory, for bench/tftp/run.sh (the same module `farrier serve` runs).
 * usage: node --import <ts loader> bench/tftp/serve.ts HOST PORT ROOT [blockSizeMax] [windowSizeMax]
 */
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import { startTftpServer } from '../../src/tftp/server.js';

const [host = '127.0.0.1', port = '69', root = '.', blockSizeMax = '1468', windowSizeMax = '16'] = process.argv.slice(2);
const srv = await startTftpServer({ host, port: Number(port), tree: new DirectoryTree(root), blockSizeMax: Number(blockSizeMax), windowSizeMax: Number(windowSizeMax) });
process.stdout.write(`ready ${srv.port}\n`);
const stop = (): void => void srv.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
