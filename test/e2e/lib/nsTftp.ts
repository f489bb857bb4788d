/** Runs Farrier's TFTP server (tftpServe.ts) inside a test namespace and reads back its transfer events. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { TransferEvent } from '../../../src/tftp/server.js';
import { tempDir } from '../../helpers/env.js';
import { listening, waitFor, type Netns, type NsProcess } from './netns.js';
import { spawnTsScript } from './tsScript.js';

export interface NsTftpServer {
  process: NsProcess;
  transfers(): TransferEvent[];
}

/** Starts Farrier's TFTP server (tftpServe.ts) inside `ns` on host:port serving `root`. */
export async function startNsTftpServer(t: Test, ns: Netns, opts: { host: string; port?: number; root: string }): Promise<NsTftpServer> {
  const logFile = join(tempDir(t, 'farrier-tftp-'), 'tftp.log');
  const port = opts.port ?? 69;
  const proc = spawnTsScript(ns, 'tftpServe.ts', ['--host', opts.host, '--port', String(port), '--root', opts.root], logFile);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitFor(async () => exited || (await listening(ns, 'udp', port)), 30_000, `TFTP server on ${opts.host}:${port}`);
  if (exited) throw new Error(`TFTP server exited: ${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
  return {
    process: proc,
    transfers: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"transfer"'))
        .map((l) => (JSON.parse(l) as { transfer: TransferEvent }).transfer),
  };
}
