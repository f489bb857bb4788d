/**
 * A DHCPv4 client for benchmarks that stands for many machines at once: one socket on port 68 (broadcast
 * requests, broadcast flag set), replies matched to their exchange by xid. Requests look like a BIOS PXE ROM
 * (options 60 PXEClient, 93 arch 0, 94, 97) or, with `ipxe`, like iPXE after it (77 "iPXE", 175).
 * Needs a route for 255.255.255.255 on the client's interface (bench/lib/netns.sh adds it).
 */
import { createSocket } from 'node:dgram';

const DHCP_MAGIC = Buffer.from([99, 130, 83, 99]);
const ipBytes = (ip) => Buffer.from(ip.split('.').map(Number));
const ipStr = (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const macBytes = (mac) => Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
const opt1 = (code, data) => Buffer.concat([Buffer.from([code, data.length]), Buffer.from(data)]);

function dhcpPacket({ type, xid, mac, ipxe, requested, serverId }) {
  const head = Buffer.alloc(240);
  head[0] = 1; // BOOTREQUEST
  head[1] = 1;
  head[2] = 6;
  head.writeUInt32BE(xid, 4);
  head.writeUInt16BE(0x8000, 10); // broadcast flag: the client has no address yet
  macBytes(mac).copy(head, 28);
  DHCP_MAGIC.copy(head, 236);
  const uuid = Buffer.alloc(17);
  macBytes(mac).copy(uuid, 11);
  const prl = [1, 3, 6, 12, 15, 17, 26, 28, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, ...(ipxe ? [175, 203] : [])];
  const opts = [
    opt1(53, [type]),
    opt1(57, [0x05, 0xc0]), // max message size 1472
    opt1(93, [0, 0]), // BIOS x86
    opt1(94, [1, 2, 1]), // UNDI 2.1
    opt1(97, uuid),
    opt1(60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')),
    ...(ipxe ? [opt1(77, Buffer.from('iPXE')), opt1(175, [0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x13, 0x01, 0x01, 0x19, 0x01, 0x01])] : []),
    ...(requested ? [opt1(50, ipBytes(requested)), opt1(54, ipBytes(serverId))] : []),
    opt1(55, prl),
    Buffer.from([255]),
  ];
  return Buffer.concat([head, ...opts]);
}

function parseReply(buf) {
  if (buf.length < 240 || buf[0] !== 2 || !buf.subarray(236, 240).equals(DHCP_MAGIC)) return undefined;
  const options = new Map();
  for (let i = 240; i < buf.length; ) {
    const code = buf[i++];
    if (code === 255) break;
    if (code === 0) continue;
    const len = buf[i++];
    options.set(code, buf.subarray(i, i + len));
    i += len;
  }
  const cstr = (b) => {
    const z = b.indexOf(0);
    return b.subarray(0, z < 0 ? b.length : z).toString('latin1');
  };
  const type = options.get(53)?.[0];
  return {
    xid: buf.readUInt32BE(4),
    type,
    yiaddr: ipStr(buf, 16),
    serverId: options.has(54) ? ipStr(options.get(54), 0) : ipStr(buf, 20),
    file: options.has(67) ? cstr(options.get(67)) : cstr(buf.subarray(108, 236)),
  };
}

/** Opens the shared socket; `dora(mac, ipxe)` resolves with the ACK ({ yiaddr, serverId, file, type }). */
export async function openDhcpClient() {
  const dhcp = createSocket({ type: 'udp4', reuseAddr: true });
  const pending = new Map(); // xid -> { type, resolve }
  dhcp.on('message', (msg) => {
    const r = parseReply(msg);
    const p = r && pending.get(r.xid);
    if (p && (r.type === p.expect || r.type === 6)) {
      pending.delete(r.xid);
      p.resolve(r);
    }
  });
  await new Promise((resolve) => dhcp.bind(68, '0.0.0.0', resolve));
  dhcp.setBroadcast(true);
  dhcp.setRecvBufferSize(8 << 20);
  dhcp.setSendBufferSize(8 << 20);

  let retransmits = 0;
  let xidSeq = Math.floor(Math.random() * 0x7fffffff);

  /** One request/reply with PXE-ROM-like retransmission (2, 4, 8, 16 s). */
  async function exchange(fields, expect) {
    const xid = (xidSeq = (xidSeq + 1) >>> 0);
    const pkt = dhcpPacket({ ...fields, xid });
    for (let attempt = 0, wait = 2000; attempt < 5; attempt++, wait *= 2) {
      if (attempt > 0) retransmits++;
      const got = new Promise((resolve) => {
        pending.set(xid, { expect, resolve });
        setTimeout(() => resolve(undefined), wait).unref();
      });
      dhcp.send(pkt, 67, '255.255.255.255');
      const r = await got;
      if (r) return r;
    }
    pending.delete(xid);
    throw new Error(`no ${expect === 2 ? 'OFFER' : 'ACK'} after 5 tries`);
  }

  let naks = 0;

  /**
   * DORA; a NAK (the offered address went to another client first) restarts it, as RFC 2131 §3.1 says, up to
   * 10 times (dnsmasq offers neighbouring MACs the same free address during a storm, so restarts are common).
   */
  async function dora(mac, ipxe) {
    for (let attempt = 1; ; attempt++) {
      const offer = await exchange({ type: 1, mac, ipxe }, 2);
      if (offer.type !== 2) throw new Error(`DISCOVER answered with type ${offer.type}`);
      const ack = await exchange({ type: 3, mac, ipxe, requested: offer.yiaddr, serverId: offer.serverId }, 5);
      if (ack.type === 5) return ack;
      naks++;
      if (attempt === 10) throw new Error(`REQUEST for ${offer.yiaddr} answered with NAK ${attempt} times`);
    }
  }

  const stats = {
    get retransmits() {
      return retransmits;
    },
    get naks() {
      return naks;
    },
  };
  return { dora, exchange, stats, close: () => dhcp.close() };
}
