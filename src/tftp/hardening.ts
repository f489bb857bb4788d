/**
 * Fixes for four robustness bugs of `tftp@0.1.2`, applied once to the package's prototypes
 * (see the regression tests in test/tftp/hardening.test.ts):
 *  T1 a datagram shorter than 4 bytes on a transfer port crashed the process (readUInt16BE out of range);
 *  T2 packets from any address/port were accepted by a transfer, so a foreign ERROR could abort it;
 *  T3 a duplicate ACK of the previous window re-sent the window and advanced it (ACK storm, stalled transfer);
 *  T4 an ACK while no window was outstanding called a null callback ("cb is not a function" sent to the client).
 *  T6 while a window wraps past block 65535 every ACK number passes the package's range check, and an ACK for a
 *     block not in the window emptied the window and then read past it (TypeError thrown from the socket
 *     handler: the process died);
 *  T7 transfer sockets were bound to the wildcard address, so on a host with several addresses the replies could
 *     leave from another address than the one the client sent its RRQ to, and clients that check (tftp-hpa)
 *     rejected them: a server bound to one address now binds its transfer sockets to that address too;
 * T5 (a request nobody answers never times out) is handled by the watchdog in server.ts.
 * Datagrams dropped by T1/T2 are reported through the request's `onDropped` hook, and every ACK the window
 * accepts through `onProgress` (the server's stall watchdog), when the server set them.
 */
import { requireTftp } from './vendor.js';

type MessageHandler = (this: unknown, msg: Buffer, rinfo?: { address: string; port: number }) => unknown;

interface IncomingRequestProto {
  _initSocket(this: IncomingRequestThis, socket: unknown, onMessage: MessageHandler): unknown;
}
interface IncomingRequestThis {
  _address: string;
  _port: number;
  /** The server's options; `address` is the host it listens on. */
  _globalOptions?: { address?: string };
  onDropped?: () => void;
}
interface WindowState {
  _cb: (() => void) | null;
  _mayRollover: boolean;
  _start: number;
  _blocks: { block: number }[];
}
interface ServerWriterProto {
  _onAck(this: { _window: WindowState | null; onProgress?: () => void }, ack: { block: number }): unknown;
}

const APPLIED = Symbol.for('farrier.tftp.hardening');

/** Patches the package once per process; later calls are no-ops. Call before creating a server. */
export function applyTftpHardening(): void {
  const IncomingRequest = requireTftp('tftp/lib/protocol/server/incoming-request') as { prototype: IncomingRequestProto };
  // The server writer is a clone of protocol/writer (see tftp/lib/protocol/inherit.js): patch the clone.
  const ServerWriter = requireTftp('tftp/lib/protocol/server/writer') as { prototype: ServerWriterProto };
  const marker = IncomingRequest.prototype as unknown as Record<symbol, boolean>;
  if (marker[APPLIED]) return;
  marker[APPLIED] = true;

  const initSocket = IncomingRequest.prototype._initSocket;
  IncomingRequest.prototype._initSocket = function (socket, onMessage) {
    const request = this;
    const host = this._globalOptions?.address;
    if (socket && host && host !== '0.0.0.0' && host !== '::') {
      // T7: the package binds with (0, null, cb) right after this call
      const dgramSocket = socket as { bind(port: number, address: string | null, cb: () => void): unknown };
      const bind = dgramSocket.bind;
      dgramSocket.bind = (port, _address, cb) => bind.call(dgramSocket, port, host, cb);
    }
    return initSocket.call(this, socket, function (this: unknown, msg, rinfo) {
      if (msg.length < 4 || (rinfo && (rinfo.address !== request._address || rinfo.port !== request._port))) {
        request.onDropped?.(); // T1, T2
        return;
      }
      return onMessage.call(this, msg, rinfo);
    });
  };

  const onAck = ServerWriter.prototype._onAck;
  ServerWriter.prototype._onAck = function (ack) {
    const w = this._window;
    if (!w || !w._cb) return; // T4: nothing outstanding to acknowledge
    const previous = (w._start - 1) & 0xffff;
    if (!w._mayRollover && ack.block === previous) return; // T3: duplicate; the timer retransmits
    if (ack.block !== previous && !w._blocks.some((b) => b.block === ack.block)) return; // T6: not in this window
    const result = onAck.call(this, ack);
    this.onProgress?.();
    return result;
  };
}
