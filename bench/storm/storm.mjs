#!/usr/bin/env node
/**
 * Boot-storm load generator: N simulated PXE machines, each with its own MAC, run the whole network boot of a
 * BIOS machine whose PXE ROM chains to iPXE, as the server would see it:
 *   dhcp_pxe   DISCOVER/OFFER/REQUEST/ACK as a PXE ROM (options 60 PXEClient, 93 arch 0, 94, 97); the ACK must
 *              name the loader (undionly.kpxe)
 *   tftp       the loader over TFTP (RRQ with blksize/tsize, lockstep like a PXE ROM), size checked
 *   dhcp_ipxe  a second DORA as iPXE (option 77 "iPXE", 175); the ACK must name an http:// boot script
 *   script     that script (boot.ipxe), then the per-MAC script it chains to (${mac:hexhyp} expanded)
 *   kernel     the kernel named by the script's `kernel` line
 *   initrd     every `initrd` line
 *   config     the installer config named on the kernel command line (inst.ks= / url= / ds=...;s=),
 *              which must contain the machine's name (proves it was the machine's own file)
 * Machines start spread evenly over --window-ms. DHCP leaves through one socket on port 68 (broadcast, replies
 * demultiplexed by xid); TFTP and HTTP go from the leased address (the run script puts the pool's addresses on
 * the client interface), one new TCP connection per file as iPXE does.
 * Prints one JSON object: totals, per-stage p50/p99/max (ms) and every failure.
 * usage: node storm.mjs --server IP --machines FILE(lines "mac name") --n N [--window-ms 1000] [--loader undionly.kpxe]
 *                       [--loader-size BYTES] [--timeout-ms 120000]
 */
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openDhcpClient } from '../lib/dhcp-client.mjs';

const { values: opt } = parseArgs({
  options: {
    server: { type: 'string' },
    machines: { type: 'string' },
    n: { type: 'string' },
    'window-ms': { type: 'string', default: '1000' },
    loader: { type: 'string', default: 'undionly.kpxe' },
    'loader-size': { type: 'string' },
    'timeout-ms': { type: 'string', default: '180000' },
  },
});
const SERVER = opt.server;
const N = Number(opt.n);
const WINDOW_MS = Number(opt['window-ms']);
const LOADER = opt.loader;
const LOADER_SIZE = opt['loader-size'] ? Number(opt['loader-size']) : undefined;
const machines = readFileSync(opt.machines, 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, N)
  .map((l) => {
    const [mac, name] = l.trim().split(/\s+/);
    return { mac, name };
  });
if (!SERVER || machines.length !== N) throw new Error(`need --server and ${N} machines in ${opt.machines}`);

const dhcp = await openDhcpClient();

// ---------------------------------------------------------------- TFTP (RFC 1350, 2347/2348/2349), lockstep
let tftpRetransmits = 0;

function tftpGet(localAddress, file) {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    let peer;
    let expected = 1;
    let blksize = 512;
    let bytes = 0;
    let last;
    let tries = 0;
    let timer;
    const finish = (err) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(bytes);
    };
    const send = (buf, port) => {
      last = { buf, port };
      tries = 0;
      sock.send(buf, port, SERVER);
      arm();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > 6) return finish(new Error(`TFTP ${file}: timed out at block ${expected}`));
        tftpRetransmits++;
        sock.send(last.buf, last.port, SERVER);
        arm();
      }, 1000);
    };
    const ack = (block) => {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(4, 0);
      b.writeUInt16BE(block & 0xffff, 2);
      return b;
    };
    sock.on('message', (msg, rinfo) => {
      if (peer === undefined) peer = rinfo.port;
      else if (rinfo.port !== peer) return;
      const op = msg.readUInt16BE(0);
      if (op === 5) return finish(new Error(`TFTP ${file}: error ${msg.readUInt16BE(2)} ${msg.subarray(4, msg.length - 1).toString()}`));
      if (op === 6) {
        const parts = msg.subarray(2).toString('latin1').split('\0');
        for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i].toLowerCase() === 'blksize') blksize = Number(parts[i + 1]);
        return send(ack(0), peer);
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block === (expected & 0xffff)) {
        bytes += msg.length - 4;
        expected++;
        const a = ack(block);
        if (msg.length - 4 < blksize) {
          clearTimeout(timer);
          // the last ACK must leave before the socket closes, or the server waits for it and times out
          sock.send(a, peer, SERVER, () => finish());
          return;
        }
        send(a, peer);
      } else if (block === ((expected - 1) & 0xffff)) {
        sock.send(ack(block), peer, SERVER); // our ACK was lost: the server resent
      }
    });
    sock.on('error', (err) => finish(err));
    sock.bind(0, localAddress, () => {
      const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0tsize\x000\0blksize\x001468\0`, 'latin1')]);
      send(rrq, 69);
    });
  });
}

// ---------------------------------------------------------------- HTTP: a new connection per file, like iPXE
function httpGet(localAddress, url, keepBody) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, localAddress, agent: false, headers: { 'User-Agent': 'iPXE/1.21.1' } }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        if (keepBody) chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${u.pathname}: HTTP ${res.statusCode}`));
        const declared = Number(res.headers['content-length']);
        if (!Number.isNaN(declared) && declared !== bytes) return reject(new Error(`GET ${u.pathname}: ${bytes} of ${declared} bytes`));
        resolve({ bytes, body: keepBody ? Buffer.concat(chunks).toString('utf8') : '' });
      });
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${u.pathname}: no data for 60 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The iPXE settings the scripts use, for this machine. */
const expand = (s, mac, ip) =>
  s.replace(/\$\{(?:net0\/|netX\/)?mac:hexhyp\}/g, mac.replace(/:/g, '-')).replace(/\$\{(?:net0\/|netX\/)?mac\}/g, mac).replace(/\$\{(?:net0\/|netX\/)?ip\}/g, ip);

function parseScript(text, mac, ip) {
  const lines = text.split('\n').map((l) => expand(l.trim(), mac, ip));
  const chain = lines.find((l) => l.startsWith('chain '))?.split(/\s+/).find((w) => /^https?:\/\//.test(w));
  const kernelLine = lines.find((l) => l.startsWith('kernel '));
  const initrds = lines.filter((l) => l.startsWith('initrd ')).map((l) => l.split(/\s+/).find((w) => /^https?:\/\//.test(w)));
  let config;
  if (kernelLine) {
    const words = kernelLine.split(/\s+/);
    const kv = words.map((w) => /^(?:inst\.ks|ks|url|ignition\.config\.url|cfg)=(https?:\/\/\S+)$/.exec(w)?.[1]).find(Boolean);
    const nocloud = words.map((w) => /^ds=nocloud-net;s=(https?:\/\/\S+?)\/?$/.exec(w)?.[1]).find(Boolean);
    config = kv ?? (nocloud ? `${nocloud}/user-data` : undefined);
  }
  return { chain, kernel: kernelLine?.split(/\s+/)[1], initrds, config };
}

// ---------------------------------------------------------------- one machine
const STAGES = ['dhcp_pxe', 'tftp', 'dhcp_ipxe', 'script', 'kernel', 'initrd', 'config', 'boot'];
const timings = Object.fromEntries(STAGES.map((s) => [s, []]));
const failures = [];
let bytesTotal = 0;

async function boot(m) {
  let stage = 'dhcp_pxe';
  const t = () => performance.now();
  let t0 = t();
  const begin = t0;
  const lap = (name) => {
    const now = t();
    timings[name].push(now - t0);
    t0 = now;
  };
  try {
    const ack1 = await dhcp.dora(m.mac, false);
    if (ack1.file !== LOADER) throw new Error(`PXE ROM was offered "${ack1.file}", expected ${LOADER}`);
    const ip = ack1.yiaddr;
    lap('dhcp_pxe');
    stage = 'tftp';
    const loaderBytes = await tftpGet(ip, ack1.file);
    if (LOADER_SIZE !== undefined && loaderBytes !== LOADER_SIZE) throw new Error(`loader: ${loaderBytes} bytes, expected ${LOADER_SIZE}`);
    bytesTotal += loaderBytes;
    lap('tftp');
    stage = 'dhcp_ipxe';
    const ack2 = await dhcp.dora(m.mac, true);
    if (!/^https?:\/\//.test(ack2.file)) throw new Error(`iPXE was offered "${ack2.file}", expected an http:// script`);
    if (ack2.yiaddr !== ip) throw new Error(`iPXE got ${ack2.yiaddr}, the PXE ROM had ${ip}`);
    lap('dhcp_ipxe');
    stage = 'script';
    let script = await httpGet(ip, ack2.file, true);
    let parsed = parseScript(script.body, m.mac, ip);
    for (let hops = 0; parsed.chain && !parsed.kernel && hops < 3; hops++) {
      script = await httpGet(ip, parsed.chain, true);
      parsed = parseScript(script.body, m.mac, ip);
    }
    if (!parsed.kernel) throw new Error(`no kernel line in the script:\n${script.body.slice(0, 400)}`);
    if (!parsed.config) throw new Error(`no installer config URL on the kernel line`);
    lap('script');
    stage = 'kernel';
    const kernel = await httpGet(ip, parsed.kernel, false);
    bytesTotal += kernel.bytes; // not `+= await`: that reads the total before the await and loses others' adds
    lap('kernel');
    stage = 'initrd';
    for (const url of parsed.initrds) {
      const initrd = await httpGet(ip, url, false);
      bytesTotal += initrd.bytes;
    }
    lap('initrd');
    stage = 'config';
    const config = await httpGet(ip, parsed.config, true);
    if (!config.body.includes(m.name)) throw new Error(`config ${parsed.config} does not name ${m.name}`);
    lap('config');
    timings.boot.push(t() - begin);
    return true;
  } catch (err) {
    failures.push({ mac: m.mac, stage, error: err.message });
    return false;
  }
}

const started = performance.now();
const ends = [];
const deadline = setTimeout(() => {
  process.stdout.write(JSON.stringify({ error: `storm did not finish within ${opt['timeout-ms']} ms`, done: ends.length, failures }) + '\n');
  process.exit(1);
}, Number(opt['timeout-ms']));
await Promise.all(
  machines.map(
    (m, i) =>
      new Promise((resolve) => setTimeout(resolve, (i * WINDOW_MS) / N)).then(async () => {
        await boot(m);
        ends.push(performance.now() - started);
      }),
  ),
);
clearTimeout(deadline);
dhcp.close();

const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10;
};
const totalMs = Math.max(...ends);
process.stdout.write(
  JSON.stringify({
    n: N,
    windowMs: WINDOW_MS,
    totalMs: Math.round(totalMs),
    ok: N - failures.length,
    failures: failures.length,
    retransmits: dhcp.stats.retransmits + tftpRetransmits,
    naks: dhcp.stats.naks,
    mbytes: Math.round(bytesTotal / 1e6),
    stages: Object.fromEntries(STAGES.map((s) => [s, { p50: pct(timings[s], 50), p99: pct(timings[s], 99), max: pct(timings[s], 100) }])),
    failureSamples: failures.slice(0, 20),
  }) + '\n',
);
