/**
 * Building replies: the option set (lease timers, mask, broadcast, subnet then reservation options, boot
 * options), its order (53, 54, then the client's PRL, then the rest, 82 last) and the destination per
 * RFC 2131 §4.1.
 */
import Handlebars from 'handlebars';
import type { BootDecision } from '../boot/decide.js';
import type { DhcpOption, Reservation, Subnet } from '../model/types.js';
import { optionFromString, type DhcpPacket, type OptionValue, type ReplyPacket } from './codec.js';
import type { RequestFacts } from './facts.js';
import { parseCidr, ZERO } from './ipv4.js';

export interface ReplySpec {
  type: number;
  request: DhcpPacket;
  facts: RequestFacts;
  serverId: string;
  yiaddr?: string;
  /** Lease seconds (omitted for INFORM, NAK and proxy replies). */
  leaseSeconds?: number;
  subnet?: Subnet;
  reservation?: Reservation;
  boot?: BootDecision;
  /** proxyDHCP: discovery control in 43, 97 echoed. */
  proxy?: boolean;
  nakMessage?: string;
}

const templates = new Map<string, HandlebarsTemplateDelegate>();

function render(value: string, ctx: Record<string, string>): string {
  if (!value.includes('{{')) return value;
  let t = templates.get(value);
  if (!t) {
    t = Handlebars.compile(value, { noEscape: true, strict: false });
    templates.set(value, t);
  }
  return t(ctx);
}

/** Operator options → encoder values; an option whose value does not fit its type is skipped (and reported). */
function configured(opts: DhcpOption[], ctx: Record<string, string>, out: Map<number, OptionValue>, bad: string[]): void {
  for (const o of opts) {
    try {
      out.set(o.code, optionFromString(o.code, render(o.value, ctx)));
    } catch (err) {
      bad.push(`option ${o.code}: ${(err as Error).message}`);
    }
  }
}

const PXE_DISCOVERY_CONTROL = Buffer.from([6, 1, 8, 255]);

export interface BuiltReply {
  packet: ReplyPacket;
  /** Operator options that could not be encoded (logged by the caller). */
  problems: string[];
}

export function buildReply(spec: ReplySpec): BuiltReply {
  const { request: req, facts } = spec;
  const opts = new Map<number, OptionValue>();
  const problems: string[] = [];
  const isNak = spec.type === 6;
  if (!isNak) {
    if (spec.leaseSeconds !== undefined) {
      opts.set(51, spec.leaseSeconds);
      opts.set(58, Math.floor(spec.leaseSeconds / 2));
      opts.set(59, Math.floor((spec.leaseSeconds * 7) / 8));
    }
    if (spec.subnet && !spec.proxy) {
      const c = parseCidr(spec.subnet.cidr);
      opts.set(1, c.mask);
      opts.set(28, c.broadcast);
      configured(spec.subnet.options, facts.templateContext, opts, problems);
    }
    if (spec.reservation) configured(spec.reservation.options, facts.templateContext, opts, problems);
    // Options 66/67 from the operator were already folded into the boot decision.
    opts.delete(66);
    opts.delete(67);
    const boot = spec.boot;
    if (boot?.sendBootOptions) {
      opts.set(67, boot.file);
      if (boot.sname) opts.set(66, boot.sname);
      if (boot.option60) opts.set(60, boot.option60);
      if (boot.option60 === 'PXEClient' && (spec.proxy || facts.vendorClass?.startsWith('PXEClient'))) opts.set(43, PXE_DISCOVERY_CONTROL);
    }
    if (spec.proxy && facts.clientUuid) opts.set(97, facts.clientUuid);
  } else if (spec.nakMessage) {
    opts.set(56, spec.nakMessage);
  }
  opts.delete(53);
  opts.delete(54);
  opts.delete(82);

  const ordered: Array<[number, OptionValue]> = [
    [53, spec.type],
    [54, spec.serverId],
  ];
  for (const code of facts.prl) {
    const v = opts.get(code);
    if (v !== undefined) {
      ordered.push([code, v]);
      opts.delete(code);
    }
  }
  for (const code of [...opts.keys()].sort((a, b) => a - b)) ordered.push([code, opts.get(code) as OptionValue]);
  if (facts.relayInfo) ordered.push([82, facts.relayInfo]);

  const boot = !isNak && spec.boot?.sendBootOptions ? spec.boot : undefined;
  return {
    problems,
    packet: {
      op: 2,
      htype: req.htype,
      hlen: req.hlen,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: spec.type === 5 || spec.type === 8 ? req.ciaddr : ZERO,
      yiaddr: spec.yiaddr ?? ZERO,
      siaddr: boot?.siaddr ?? ZERO,
      giaddr: req.giaddr,
      chaddr: req.chaddr,
      sname: boot?.sname ?? '',
      file: boot?.file ?? '',
      options: ordered,
    },
  };
}

export interface Destination {
  address: string;
  port: number;
}

/**
 * RFC 2131 §4.1: relay → giaddr:server-port; ciaddr → unicast; otherwise broadcast out of the arrival
 * interface. Unicast to ciaddr only when the request came from ciaddr (a renewing, rebinding or informing
 * client sends from its address): anything else claims an address it does not use, and unicasting there makes
 * the kernel resolve a host that may not exist, holding the reply (and the socket's send buffer) for seconds —
 * a flood of such requests would stall every other reply. Those get the broadcast a client accepts anyway.
 */
export function destinationOf(
  req: DhcpPacket,
  replyType: number,
  ports: { server: number; client: number },
  broadcastTo: string,
  from: Destination,
): Destination {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: ports.server };
  if (replyType !== 6 && req.ciaddr !== ZERO && from.address === req.ciaddr) return { address: req.ciaddr, port: ports.client };
  return { address: broadcastTo, port: ports.client };
}
