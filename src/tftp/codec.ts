/**
 * Typed view of the untyped CommonJS `tftp@0.1.2` package (no @types exist). Only what Farrier uses.
 * Loaded with createRequire so hardening.ts patches the very module instances the server uses.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

export const requireTftp = createRequire(import.meta.url);

export interface TftpTransferStats {
  blockSize: number;
  windowSize: number;
  size: number | null;
  userExtensions: Record<string, string>;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/** The request side of a GET (the package calls it GetStream). */
export interface TftpRequest extends Readable {
  method: 'GET' | 'PUT';
  file: string;
  stats: TftpTransferStats;
  abort(message?: string): void;
  close(): void;
  /** The response stream and its protocol writer (the transfer's socket). */
  _ps: { _writer: TftpServerWriter };
}

/** The package's per-transfer protocol object on the server side (see hardening.ts, speedups.ts). */
export interface TftpServerWriter {
  _socket: Socket;
  _address: string;
  _port: number;
  _closed: boolean;
  _closing: boolean;
  /** Set by speedups.ts once the socket is connected to the client: sends then go without an address. */
  _connectedToClient?: boolean;
  /** Called by hardening.ts for each datagram the transfer ignores (short, or from a foreign address/port). */
  onDropped?: () => void;
  /** Called by hardening.ts for each ACK the window accepts. */
  onProgress?: () => void;
}

/** The response side of a GET: setSize() must be called once, then exactly that many bytes written. */
export interface TftpResponse extends Writable {
  setSize(size: number): void;
}

export interface TftpPackageServer extends EventEmitter {
  host: string;
  /** Read by listen() when binding; 0 asks the OS for an ephemeral port. */
  port: number;
  listen(): void;
  close(): void;
  /** The package's listening socket: the port actually bound, and where RequestGate intercepts datagrams. */
  _socket: Socket;
}

export interface TftpServerOptions {
  host: string;
  port: number;
  root: string;
  denyPUT: boolean;
  denyGET?: boolean;
  blockSize: number;
  windowSize: number;
  timeout: number;
  retries: number;
}

interface TftpModule {
  createServer(opts: TftpServerOptions, listener: (req: TftpRequest, res: TftpResponse) => void): TftpPackageServer;
}

export const tftpPackage = (): TftpModule => requireTftp('tftp') as TftpModule;
