/**
 * The DHCP server's message handling (RFC 2131 state machine), independent of sockets: a datagram and the
 * interface it arrived on go in, at most one encoded reply and its destination come out. The socket layer
 * (sockets.ts) feeds it; tests can drive it over loopback.
 *
 * Farrier answers nothing until a subnet (by giaddr, else by the arrival interface's addresses) or a
 * reservation covers the client, so starting it on a LAN never hijacks another server's clients.
 */
import { decideBoot, isBootClient, type BootDecision } from '../boot/decide.js';
import { FarrierError } from '../errors.js';
import type { Reservation, Subnet } from '../model/types.js';
import { decode, encode, MessageType, messageTypeName, type DhcpPacket } from './codec.js';
import { requestFacts, type RequestFacts } from './facts.js';
import { cidrContains, ipToInt, parseCidr, ZERO, type Cidr } from './ipv4.js';
import { LogLimiter } from './logLimit.js';
import { bump, type Counters, type DhcpDirectory, type EventSink, type LeasePort, type Log } from './ports.js';
import { buildReply, destinationOf, type Destination, type ReplySpec } from './reply.js';

/** One interface the server answers on, with its own IPv4 address there. */
export interface ServedInterface {
  name: string;
  address: string;
  prefix: number;
  /** Where "broadcast" replies go: 255.255.255.255 on a real NIC, a loopback address in tests. */
  broadcastTo: string;
}

export interface Outgoing {
  data: Buffer;
  to: Destination;
}

export interface DhcpServerDeps {
  directory: DhcpDirectory;
  leases: LeasePort;
  events: EventSink;
  log: Log;
  counters: Counters;
  httpPort: number;
  /** Server port (replies to relays go to giaddr on this port) and client port. */
  ports: { server: number; client: number };
  /** Requests handled at once (default 512); more arriving meanwhile are dropped and counted (`dropped_overload`). */
  maxInFlight?: number;
}

/** Where a request arrived: the DHCP port, or the proxyDHCP follow-up port (4011). */
export type Via = 'dhcp' | 'proxy';

const leaseSeconds = (subnet: Subnet, reservation: Reservation | undefined): number =>
  reservation ? subnet.reservedLeaseTime || subnet.leaseTime : subnet.leaseTime;

const arch64 = (arch: number | undefined): 'amd64' | 'arm64' => (arch === 11 || arch === 19 ? 'arm64' : 'amd64');

const isLoopback = (ip: string): boolean => ipToInt(ip) >>> 24 === 127;

/**
 * 0/8, multicast and class E (224/3) and the limited broadcast are never a relay's address; nor is 127/8,
 * unless the request arrived on a loopback address itself (single-host setups and tests relay there).
 */
const bogusRelay = (giaddr: string, iface: ServedInterface): boolean => {
  const first = ipToInt(giaddr) >>> 24;
  if (first === 0 || first >= 224 || giaddr === iface.address) return true;
  return first === 127 && !isLoopback(iface.address);
};

/** The subnet's own network or broadcast address (blocks of 4 and more addresses have them). */
const networkOrBroadcast = (c: Cidr, ip: string): boolean => {
  if (c.prefix > 30) return false;
  const n = ipToInt(ip);
  return n === c.first || n === c.last;
};

export class DhcpServer {
  private readonly limiter = new LogLimiter();
  /**
   * Requests between decode and reply. Sockets are read as fast as datagrams come, so without a bound a flood
   * of valid-looking requests queues unbounded work (memory) and delays every reply past the clients' timeouts;
   * shedding the excess keeps latency bounded, and clients retry.
   */
  private inFlight = 0;

  constructor(private readonly d: DhcpServerDeps) {}

  /** Handle one datagram; never throws (malformed input and internal failures are counted and logged). */
  async handle(buf: Buffer, iface: ServedInterface, via: Via, from: Destination): Promise<Outgoing | undefined> {
    let req: DhcpPacket;
    let facts: RequestFacts;
    try {
      req = decode(buf);
      facts = requestFacts(req);
      if (req.op !== 1 || facts.type < 1 || facts.type > 8) throw new Error('not a DHCP request');
    } catch {
      bump(this.d.counters, 'dropped_malformed');
      return undefined;
    }
    if (this.inFlight >= (this.d.maxInFlight ?? 512)) {
      bump(this.d.counters, 'dropped_overload');
      this.limiter.log('overload', (suppressed) => this.d.log.warn({ inFlight: this.inFlight, suppressed }, 'dhcp: overloaded; dropping requests until the backlog clears'));
      return undefined;
    }
    bump(this.d.counters, `in_${messageTypeName[facts.type]}`);
    this.inFlight++;
    try {
      const out = await this.dispatch(req, facts, iface, via, from);
      if (out) bump(this.d.counters, `out_${messageTypeName[out.type]}`);
      return out && { data: out.data, to: out.to };
    } catch (err) {
      if (err instanceof FarrierError && err.code === 'UNAVAILABLE') {
        // the store refused (disk full, locked, read-only): an operator's problem with its own reason, not a bug
        bump(this.d.counters, 'dropped_store_unavailable');
        const reason = err.detail?.reason;
        this.limiter.log('store', (suppressed) => this.d.log.warn({ mac: facts.mac, type: messageTypeName[facts.type], reason, error: err.message, suppressed }, 'dhcp: request dropped, the store is unavailable'));
        return undefined;
      }
      bump(this.d.counters, 'errors');
      this.limiter.log('errors', (suppressed) => this.d.log.error({ err, mac: facts.mac, type: messageTypeName[facts.type], suppressed }, 'dhcp: request failed'));
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  private async scope(req: DhcpPacket, facts: RequestFacts, iface: ServedInterface) {
    const subnets = (await this.d.directory.subnets()).filter((s) => s.enabled);
    const reservation = await this.d.directory.reservationByMac(facts.mac);
    const network = req.giaddr !== ZERO ? req.giaddr : iface.address;
    const onNetwork = subnets.find((s) => cidrContains(parseCidr(s.cidr), network));
    const ofReservation = reservation && subnets.find((s) => cidrContains(parseCidr(s.cidr), reservation.address));
    // The network's subnet wins; a reservation applies only when its address lies in that subnet (the client is
    // on another LAN otherwise). With no subnet on the network, a reservation alone still covers its MAC.
    const subnet = onNetwork ?? ofReservation;
    const resv = reservation && subnet && ofReservation === subnet ? reservation : undefined;
    return { subnet, reservation: resv };
  }

  private async dispatch(req: DhcpPacket, facts: RequestFacts, iface: ServedInterface, via: Via, from: Destination) {
    // A relay address that no relay can have would make the reply go to ourselves, a broadcast address or
    // another network's host: ignore it (spoofed or garbled) rather than reflect replies there.
    if (req.giaddr !== ZERO && bogusRelay(req.giaddr, iface)) {
      bump(this.d.counters, 'ignored_bogus_giaddr');
      return undefined;
    }
    const { subnet, reservation } = await this.scope(req, facts, iface);
    if (!subnet) {
      bump(this.d.counters, 'ignored_no_subnet');
      return undefined;
    }
    if (req.giaddr !== ZERO && networkOrBroadcast(parseCidr(subnet.cidr), req.giaddr)) {
      bump(this.d.counters, 'ignored_bogus_giaddr');
      return undefined;
    }
    if (subnet.proxy || via === 'proxy') return this.proxy(req, facts, iface, subnet, reservation, via, from);
    const serverId = iface.address;
    const reply = (spec: Omit<ReplySpec, 'request' | 'facts' | 'serverId'>) => this.send(req, facts, iface, from, { ...spec, request: req, facts, serverId });
    const lreq = { mac: facts.mac, subnet, reservation, hostname: facts.hostname, clientId: facts.clientId };

    switch (facts.type) {
      case MessageType.DISCOVER: {
        const lease = await this.d.leases.offer({ ...lreq, requested: facts.requested });
        if (!lease) {
          bump(this.d.counters, 'pool_exhausted');
          this.limiter.log(`pool:${subnet.name}`, (suppressed) =>
            this.d.log.warn({ mac: facts.mac, subnet: subnet.name, suppressed }, 'dhcp: no address to offer (pool exhausted)'),
          );
          return undefined;
        }
        const boot = await this.boot(facts, subnet, reservation, serverId, 'discover');
        return reply({ type: MessageType.OFFER, yiaddr: lease.address, leaseSeconds: leaseSeconds(subnet, reservation), subnet, reservation, boot });
      }
      case MessageType.REQUEST:
        return this.request(req, facts, subnet, reservation, serverId, reply);
      case MessageType.DECLINE: {
        if (facts.serverId && facts.serverId !== serverId) return undefined;
        if (facts.requested) await this.d.leases.decline(facts.mac, facts.requested);
        this.limiter.log('decline', (suppressed) => this.d.log.warn({ mac: facts.mac, address: facts.requested, suppressed }, 'dhcp: client declined its address'));
        return undefined;
      }
      case MessageType.RELEASE: {
        if (facts.serverId && facts.serverId !== serverId) return undefined;
        if (req.ciaddr !== ZERO) await this.d.leases.release(facts.mac, req.ciaddr);
        return undefined;
      }
      case MessageType.INFORM: {
        // The ACK goes to ciaddr: it must be a host address of this subnet, not a broadcast to reflect onto.
        const c = parseCidr(subnet.cidr);
        if (req.ciaddr !== ZERO && (!cidrContains(c, req.ciaddr) || networkOrBroadcast(c, req.ciaddr))) {
          bump(this.d.counters, 'ignored_bogus_ciaddr');
          return undefined;
        }
        const boot = await this.boot(facts, subnet, reservation, serverId, 'inform');
        return reply({ type: MessageType.ACK, subnet, reservation, boot });
      }
      default:
        return undefined;
    }
  }

  private async request(
    req: DhcpPacket,
    facts: RequestFacts,
    subnet: Subnet,
    reservation: Reservation | undefined,
    serverId: string,
    reply: (spec: Omit<ReplySpec, 'request' | 'facts' | 'serverId'>) => Promise<{ data: Buffer; to: Destination; type: number }>,
  ) {
    const lreq = { mac: facts.mac, subnet, reservation, hostname: facts.hostname, clientId: facts.clientId };
    const nak = async (why: string) => {
      const machine = await this.d.directory.machineByMac(facts.mac);
      if (machine) {
        const detail = { mac: facts.mac, uuid: machine.uuid, phase: 'nak', reason: why, address: facts.requested ?? req.ciaddr };
        this.d.log.info(detail, 'dhcp: NAK');
        this.d.events.publish({ time: new Date().toISOString(), type: 'dhcp', action: 'nak', key: machine.uuid, object: detail });
      }
      return reply({ type: MessageType.NAK, nakMessage: why });
    };
    const inSubnet = (a: string) => cidrContains(parseCidr(subnet.cidr), a);
    let address: string;
    if (facts.serverId !== undefined) {
      // SELECTING: the client chose a server; if not us, drop our offer and stay silent.
      if (facts.serverId !== serverId) {
        await this.d.leases.forgetOffer(facts.mac);
        bump(this.d.counters, 'ignored_other_server');
        return undefined;
      }
      if (!facts.requested) return nak('no requested address');
      address = facts.requested;
    } else if (facts.requested !== undefined && req.ciaddr === ZERO) {
      // INIT-REBOOT: confirm a remembered address; silent if we have no record of it.
      address = facts.requested;
      if (!inSubnet(address)) return nak('wrong network');
      const holder = await this.d.leases.holder(address);
      if (!holder && reservation?.address !== address) return undefined;
      if (holder && holder.mac !== facts.mac) return nak('address belongs to another client');
    } else if (req.ciaddr !== ZERO) {
      // RENEWING (unicast) or REBINDING (broadcast).
      address = req.ciaddr;
      if (!inSubnet(address)) return nak('wrong network');
    } else {
      return undefined;
    }
    const lease = await this.d.leases.bind({ ...lreq, address });
    if (!lease) return nak('address not available');
    const boot = await this.boot(facts, subnet, reservation, serverId, 'request');
    const out = await reply({ type: MessageType.ACK, yiaddr: lease.address, leaseSeconds: leaseSeconds(subnet, reservation), subnet, reservation, boot });
    this.d.directory.setMachineAddress(facts.mac, lease.address).catch((err: unknown) => {
      this.d.log.error({ err, mac: facts.mac, address: lease.address }, 'dhcp: could not record the machine address');
    });
    return out;
  }

  /** proxyDHCP: boot options only, never an address; only for PXE clients. */
  private async proxy(req: DhcpPacket, facts: RequestFacts, iface: ServedInterface, subnet: Subnet, reservation: Reservation | undefined, via: Via, from: Destination) {
    if (!facts.vendorClass?.startsWith('PXEClient')) return undefined;
    const type =
      via === 'dhcp' && facts.type === MessageType.DISCOVER
        ? MessageType.OFFER
        : via === 'proxy' && (facts.type === MessageType.REQUEST || facts.type === MessageType.INFORM)
          ? MessageType.ACK
          : undefined;
    if (type === undefined) return undefined;
    const boot = await this.boot(facts, subnet, reservation, iface.address, via === 'dhcp' ? 'discover' : 'request');
    if (!boot.sendBootOptions) return undefined;
    const built = await this.send(req, facts, iface, from, {
      type,
      request: req,
      facts,
      serverId: iface.address,
      subnet,
      reservation,
      boot,
      proxy: true,
    });
    // The follow-up on 4011 is answered to wherever it came from (OVMF sends from 4011 and listens there).
    return via === 'proxy' ? { ...built, to: from } : built;
  }

  private async boot(facts: RequestFacts, subnet: Subnet, reservation: Reservation | undefined, serverAddress: string, phase: string): Promise<BootDecision> {
    const bootClient = isBootClient(facts);
    const machine = await this.d.directory.machineByMac(facts.mac);
    let decision: BootDecision;
    if (!bootClient) {
      decision = decideBoot({ request: facts, prefs: {}, serverAddress, httpPort: this.d.httpPort });
    } else {
      const prefs = await this.d.directory.prefs();
      let known = machine;
      if (!known && prefs.autoRegister && phase === 'discover') known = await this.d.directory.autoRegister(facts.mac, arch64(facts.arch));
      const envName = known ? known.bootenv : prefs.unknownBootEnv;
      const bootenv = envName ? await this.d.directory.bootenv(envName) : undefined;
      const bootFileOf = (opts: { code: number; value: string }[] | undefined) => opts?.find((o) => o.code === 67)?.value;
      decision = decideBoot({
        request: facts,
        machine: known,
        bootenv,
        prefs: { unknownBootEnv: prefs.unknownBootEnv, efiLoader: typeof prefs.efiLoader === 'string' ? prefs.efiLoader : undefined },
        reservationBootFile: bootFileOf(reservation?.options),
        subnetBootFile: bootFileOf(subnet.options),
        reservationNextServer: reservation?.nextServer,
        subnetNextServer: subnet.nextServer,
        serverAddress,
        httpPort: this.d.httpPort,
      });
    }
    if (machine) {
      const detail = { mac: facts.mac, uuid: machine.uuid, arch: facts.arch, phase, decision: decision.reason, file: decision.file };
      this.d.log.info(detail, 'dhcp: boot decision');
      this.d.events.publish({ time: new Date().toISOString(), type: 'dhcp', action: phase, key: machine.uuid, object: detail });
    }
    return decision;
  }

  private async send(req: DhcpPacket, facts: RequestFacts, iface: ServedInterface, from: Destination, spec: ReplySpec) {
    const built = buildReply(spec);
    if (built.problems.length > 0) {
      this.limiter.log(`options:${spec.subnet?.name}`, (suppressed) => this.d.log.warn({ mac: facts.mac, problems: built.problems, suppressed }, 'dhcp: options skipped'));
    }
    const data = encode(built.packet);
    return { data, to: destinationOf(req, spec.type, this.d.ports, iface.broadcastTo, from), type: spec.type };
  }
}
