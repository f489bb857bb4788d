/** The facts a decoded request carries that the server and the PXE decision use, normalised once. */
import type { BootRequestFacts } from '../boot/decide.js';
import type { DhcpPacket } from './codec.js';

export interface RequestFacts extends BootRequestFacts {
  type: number;
  mac: string;
  requested?: string;
  serverId?: string;
  /** Option 61 as hex. */
  clientId: string | null;
  hostname: string | null;
  /** Option 82, echoed unchanged. */
  relayInfo?: Buffer;
  /** Option 97, echoed by proxyDHCP. */
  clientUuid?: Buffer;
  /** Template context for option values: `opt<code>` → text form of each request option, plus `mac`. */
  templateContext: Record<string, string>;
}

const asBuffer = (v: unknown): Buffer | undefined => (Buffer.isBuffer(v) ? v : undefined);
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** iPXE sends option 77 as the bare string `iPXE`; RFC 3004 clients prefix each class with its length. */
function userClassText(raw: Buffer | undefined): string | undefined {
  if (!raw || raw.length === 0) return undefined;
  if (raw[0] === raw.length - 1 && raw.length > 1) return raw.subarray(1).toString('latin1');
  return raw.toString('latin1');
}

function textOf(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

export function requestFacts(p: DhcpPacket): RequestFacts {
  const o = p.options;
  const type = typeof o[53] === 'number' ? o[53] : 0;
  const arch = Array.isArray(o[93]) && typeof o[93][0] === 'number' ? (o[93][0] as number) : undefined;
  const templateContext: Record<string, string> = { mac: p.chaddr };
  for (const [code, v] of Object.entries(o)) templateContext[`opt${code}`] = textOf(v);
  return {
    type,
    mac: p.chaddr,
    requested: asString(o[50]),
    serverId: asString(o[54]),
    clientId: asBuffer(o[61])?.toString('hex') ?? null,
    hostname: asString(o[12]) ?? null,
    relayInfo: asBuffer(o[82]),
    clientUuid: asBuffer(o[97]),
    vendorClass: asString(o[60]),
    arch,
    userClass: userClassText(asBuffer(o[77])),
    ipxeFeatures: o[175] !== undefined,
    prl: [...(asBuffer(o[55]) ?? [])],
    templateContext,
  };
}
