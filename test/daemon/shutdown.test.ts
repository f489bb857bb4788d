/**
 * Graceful shutdown of a real daemon process: SIGTERM closes the listening sockets at once, a TFTP transfer
 * in flight to a slow client still completes within --shutdown-grace, one that outlives it is aborted with
 * a TFTP error, and the process exits 0 with the database closed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/env.js';
import { freeUdpPort } from '../wiring/helpers.js';

const launcher = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'whole-launcher.ts');

interface Child {
  proc: ChildProcess;
  url: string;
  tftpPort: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startChild(t: Test, dataDir: string, env: Record<string, string>): Promise<Child> {
  const tftpPort = await freeUdpPort();
  const proc = spawn(process.execPath, [...process.execArgv, launcher], {
    env: {
      ...process.env,
      FARRIER_DATA_DIR: dataDir,
      FARRIER_HTTP_PORT: '0',
      FARRIER_HTTP_HOST: '127.0.0.1',
      FARRIER_TFTP_PORT: String(tftpPort),
      FARRIER_DHCP_PORT: String(await freeUdpPort()),
      FARRIER_PROXY_DHCP_PORT: String(await freeUdpPort()),
      FARRIER_DHCP_CLIENT_PORT: String(await freeUdpPort()),
      FARRIER_ADMIN_PASSWORD: 'shutdown-pw',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]!, tftpPort, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before it was ready: ${err}`)));
  });
}

interface SlowFetch {
  /** Resolves with the bytes once the last DATA block arrived, or with the TFTP error message. */
  done: Promise<{ data: Buffer; error?: string }>;
  /** Resolves when `blocks` DATA blocks have been received. */
  received(blocks: number): Promise<void>;
}

/** A TFTP client (octet, 512-byte blocks) that waits `ackDelay(block)` ms before ACKing each block. */
function slowTftpGet(port: number, file: string, ackDelay: (block: number) => number): SlowFetch {
  const sock = createSocket('udp4');
  const chunks: Buffer[] = [];
  const waiters: Array<{ blocks: number; resolve: () => void }> = [];
  let last = 0;
  let closed = false;
  const close = (): void => {
    closed = true;
    sock.close();
  };
  const done = new Promise<{ data: Buffer; error?: string }>((resolve) => {
    sock.on('message', (msg, rinfo) => {
      const op = msg.readUInt16BE(0);
      if (op === 5) {
        close();
        resolve({ data: Buffer.concat(chunks), error: msg.subarray(4, msg.length - 1).toString() });
        return;
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block === last + 1) {
        last = block;
        chunks.push(msg.subarray(4));
        for (const w of waiters.filter((w) => w.blocks <= last)) w.resolve();
      }
      const ack = Buffer.from([0, 4, block >> 8, block & 0xff]);
      const final = msg.length < 4 + 512;
      setTimeout(() => {
        if (closed) return;
        // close only once the final ACK is on its way, or the server never learns the transfer ended
        sock.send(ack, rinfo.port, rinfo.address, () => {
          if (!final) return;
          close();
          resolve({ data: Buffer.concat(chunks) });
        });
      }, ackDelay(block));
    });
  });
  sock.bind(0, '127.0.0.1', () => sock.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)]), port, '127.0.0.1'));
  return { done, received: (blocks) => new Promise((resolve) => (blocks <= last ? resolve() : waiters.push({ blocks, resolve }))) };
}

function bigFile(dataDir: string, bytes: number): Buffer {
  const content = randomBytes(bytes);
  mkdirSync(join(dataDir, 'files'), { recursive: true });
  writeFileSync(join(dataDir, 'files', 'big.bin'), content);
  return content;
}

t.test('SIGTERM lets a slow TFTP transfer in flight finish, then exits 0', async (t) => {
  const dataDir = tempDir(t, 'fshut-');
  const content = bigFile(dataDir, 40 * 512 + 100);
  const child = await startChild(t, dataDir, { FARRIER_SHUTDOWN_GRACE: '30' });
  const get = slowTftpGet(child.tftpPort, 'big.bin', () => 50);
  await get.received(3);
  child.proc.kill('SIGTERM');
  const res = await get.done;
  t.equal(res.error, undefined, 'no TFTP error');
  t.ok(res.data.equals(content), 'every byte of the file arrived after SIGTERM');
  t.equal(await child.exited, 0, 'exit status 0');
  const log = child.stderr();
  t.match(log, /"msg":"shutting down"/);
  t.match(log, /tftp: waiting for transfers in flight/, 'the daemon waited for the transfer');
  t.match(log, /"file":"big.bin","bytes":20580[^\n]*"outcome":"complete"/, 'the transfer is logged complete');
  t.ok(log.indexOf('"msg":"stopped"') > log.indexOf('tftp transfer complete'), 'the store closed after the transfer ended');
  t.equal(await fetch(`${child.url}/api/v1/info`).then(() => 'answered', () => 'refused'), 'refused', 'HTTP no longer accepts');
});

t.test('a transfer that outlives --shutdown-grace is aborted with a TFTP error, and the daemon still exits 0', async (t) => {
  const dataDir = tempDir(t, 'fshut-');
  bigFile(dataDir, 40 * 512);
  const child = await startChild(t, dataDir, { FARRIER_SHUTDOWN_GRACE: '1' });
  // After block 2 the client goes quiet for longer than the grace period (but less than a stall).
  const get = slowTftpGet(child.tftpPort, 'big.bin', (block) => (block >= 2 ? 4000 : 0));
  await get.received(2);
  child.proc.kill('SIGTERM');
  const res = await get.done;
  t.equal(res.error, 'Server shutting down', 'the client is told why');
  t.equal(await child.exited, 0, 'exit status 0');
  t.match(child.stderr(), /shutdown grace over, aborting transfers in flight/);
});
