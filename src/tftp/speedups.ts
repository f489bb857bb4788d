/**
 * Per-block costs of `tftp@0.1.2`'s server writer, removed once on the package's prototypes (measured in
 * docs/performance.md "## TFTP"):
 *  - every DATA packet was a fresh `new Buffer` (deprecated constructor: a deprecation check per call) with the
 *    block copied into it: now a 4-byte header and the block go out together as one datagram, no copy;
 *  - every send resolved the client's address again: once the transfer socket is connected to the client
 *    (`connectToClient`), sends carry no address and the kernel drops datagrams from anyone else.
 */
import { requireTftp, type TftpServerWriter as ServerRequest } from './vendor.js';

interface ServerRequestProto {
  _send(this: ServerRequest, buffer: Buffer, cb?: () => void): void;
  _sendBlock(this: ServerRequest, block: number, data: Buffer): void;
}

const APPLIED = Symbol.for('farrier.tftp.speedups');

export function applyTftpSpeedups(): void {
  // the server-side writer clone: the client side of the package keeps its own prototypes
  const ServerWriter = requireTftp('tftp/lib/protocol/server/writer') as { prototype: ServerRequestProto };
  const proto = ServerWriter.prototype as ServerRequestProto & Record<symbol, boolean>;
  if (proto[APPLIED]) return;
  proto[APPLIED] = true;

  const send = proto._send;
  proto._send = function (buffer, cb) {
    if (!this._connectedToClient) return send.call(this, buffer, cb);
    if (this._closed || this._closing) return;
    this._socket.send(buffer, cb);
  };
  proto._sendBlock = function (block, data) {
    if (this._closed || this._closing) return;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt16BE(3, 0);
    header.writeUInt16BE(block, 2);
    if (this._connectedToClient) this._socket.send([header, data]);
    else this._socket.send([header, data], this._port, this._address);
  };
}

/**
 * Connects a transfer's socket to its client (the package leaves it unconnected), then calls `ready`: the
 * transfer must send nothing in between, a send racing the connect would be lost. A failure to connect is an
 * 'error' on the socket, which ends the transfer.
 */
export function connectToClient(request: ServerRequest, ready: () => void): void {
  request._socket.connect(request._port, request._address, () => {
    request._connectedToClient = true;
    ready();
  });
}
