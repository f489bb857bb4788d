/**
 * Option negotiation for a read request (RFC 2347 OACK; RFC 2348 blksize, RFC 2349 timeout and tsize,
 * RFC 7440 windowsize): what the transfer runs with and what the OACK says. An OACK is sent only when the
 * client asked for an option the server accepts; a client without options gets 512-byte lockstep.
 */
import type { ParsedRequest } from './codec.js';

export interface OptionLimits {
  blockSizeMax: number;
  windowSizeMax: number;
  /** The server's own retransmission timeout, used unless the client's `timeout` is accepted. */
  timeoutMs: number;
  /** A client `timeout` is accepted only when at least two retransmissions fit before the stall watchdog. */
  stallTimeoutMs: number;
}

export interface Negotiated {
  blockSize: number;
  windowSize: number;
  timeoutMs: number;
  /** The OACK's fields, `tsize` still 0 until the file's size is known; null: no OACK, DATA 1 comes first. */
  oack: Record<string, number> | null;
}

/**
 * The `timeout` option's value (RFC 2349: whole seconds, 1–255), or undefined. The package's parser skips this
 * option, so it is read from the datagram here; the request was already validated by the parser.
 */
export function requestedTimeout(msg: Buffer): number | undefined {
  const fields = msg.toString('latin1', 2).split('\0');
  // fields: file, mode, then name/value pairs
  for (let i = 2; i + 1 < fields.length; i += 2) {
    if (fields[i] !== 'timeout') continue;
    const v = fields[i + 1] as string;
    return /^[0-9]{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 255 ? Number(v) : undefined;
  }
  return undefined;
}

export function negotiate(request: ParsedRequest, timeoutSeconds: number | undefined, limits: OptionLimits): Negotiated {
  const ext = request.extensions;
  const oack: Record<string, number> = {};
  let blockSize = 512;
  let windowSize = 1;
  let timeoutMs = limits.timeoutMs;
  if (ext?.blksize !== undefined) oack.blksize = blockSize = Math.min(ext.blksize, limits.blockSizeMax);
  if (ext?.windowsize !== undefined) oack.windowsize = windowSize = Math.min(ext.windowsize, limits.windowSizeMax);
  if (ext?.tsize !== undefined) oack.tsize = 0;
  if (timeoutSeconds !== undefined && timeoutSeconds * 1000 * 3 <= limits.stallTimeoutMs) {
    oack.timeout = timeoutSeconds;
    timeoutMs = timeoutSeconds * 1000;
  }
  // block numbers always roll over to 0 after 65535 (what tftp-hpa and atftpd do)
  if (ext?.rollover !== undefined) oack.rollover = 0;
  return { blockSize, windowSize, timeoutMs, oack: Object.keys(oack).length > 0 ? oack : null };
}
