/**
 * The `tftp@0.1.2` package as Farrier uses it: its packet codec only (no @types exist, so this is the typed
 * view). Transfers run on Farrier's own loop (transfer.ts); the package parses requests and builds OACK and
 * ERROR packets. DATA packets are built in transfer.ts without the package, to send each block without a copy.
 */
import { createRequire } from 'node:module';

const requireTftp = createRequire(import.meta.url);

/** Known options as the package validated them (blksize 8–65464, tsize 0, windowsize 1–65535, rollover 0/1). */
export interface RequestExtensions {
  blksize?: number;
  tsize?: number;
  windowsize?: number;
  rollover?: number;
}

export interface ParsedRequest {
  /** The file name after the package's check (no leading `..`, no multibyte characters). */
  file: string;
  /** null when the client sent none of the known options. */
  extensions: RequestExtensions | null;
  /** Every other option, by name (the package skips `timeout`: see requestedTimeout in options.ts). */
  userExtensions: Record<string, string>;
}

interface Packets {
  rrq: { deserialize(b: Buffer): ParsedRequest };
  oack: { serialize(extensions: Record<string, string | number>): Buffer };
  error: { serialize(e: { code: number; message: string }): Buffer; deserialize(b: Buffer): { code: number; message: string } };
}

interface Errors {
  /** The RFC 1350 code whose text equals `message`, else 0. */
  wrap(message: string): { code: number; message: string };
}

const packets = requireTftp('tftp/lib/protocol/packets') as Packets;
const errors = requireTftp('tftp/lib/protocol/errors') as Errors;

/** Parses an RRQ/WRQ; throws the package's error (its `message` says what was refused) on a bad one. */
export const parseRequest = (msg: Buffer): ParsedRequest => packets.rrq.deserialize(msg);

export const oackPacket = (extensions: Record<string, string | number>): Buffer => packets.oack.serialize(extensions);

/** An ERROR packet; the code is the RFC 1350 one when `message` is its standard text ("File not found" → 1). */
export const errorPacket = (message: string): Buffer => packets.error.serialize(errors.wrap(message));

/** The message of a client's ERROR packet; throws on one cut short (no NUL). */
export const parseErrorMessage = (msg: Buffer): string => packets.error.deserialize(msg).message;
