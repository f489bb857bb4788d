/**
 * Minimal declarations for the parts of the pinned `dhcp@0.2.20` package Farrier uses: the packet codec and
 * its option registry. The package ships no types (`@types/dhcp` does not exist).
 */
declare module 'dhcp/lib/protocol.js' {
  export interface WirePacket {
    op: number;
    htype: number;
    hlen: number;
    hops: number;
    xid: number;
    secs: number;
    flags: number;
    ciaddr: string;
    yiaddr: string;
    siaddr: string;
    giaddr: string;
    /** Upper-case dash form AA-BB-CC-DD-EE-FF. */
    chaddr: string;
    sname: string;
    file: string;
    magicCookie?: number;
    options: Record<number, unknown>;
  }
  export interface SeqBufferLike {
    _data: Buffer;
    _w: number;
  }
  const protocol: { parse(buf: Buffer): WirePacket; format(p: WirePacket): SeqBufferLike };
  export default protocol;
}

declare module 'dhcp/lib/options.js' {
  export interface OptionDef {
    name: string;
    type: string;
    attr?: string;
    config?: string;
    enum?: Record<number, string>;
  }
  const options: { opts: Record<number, OptionDef>; addOption(code: number, def: OptionDef): void };
  export default options;
}

declare module 'dhcp/lib/seqbuffer.js' {
  class SeqBuffer {
    constructor(buf?: Buffer, len?: number);
    _data: Buffer;
    _r: number;
    _w: number;
    getOptions(): Record<number, unknown>;
    addOptions(opts: Record<number, unknown>): void;
    [method: string]: unknown;
  }
  export default SeqBuffer;
}

declare module 'sockopt' {
  import type { Socket } from 'node:dgram';
  const sockopt: {
    setsockopt(socket: Socket, level: number, option: number, value: number): void;
    getsockopt(socket: Socket, level: number, option: number): number;
  };
  export default sockopt;
}
