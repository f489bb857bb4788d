/**
 * A whole Farrier daemon for the wiring tests: startDaemon with the real protocol layers (src/wiring), a
 * temporary data dir, HTTP on an ephemeral loopback port, TFTP and DHCP on free high ports, DHCP in
 * explicit-address mode on 127.0.0.1 (replies that would be broadcast go to 127.0.0.1 on the client port,
 * where the test's client socket listens). Nothing leaves loopback.
 */
import { createSocket, type Socket } from 'node:dgram';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { type Config, loadConfig } from '../../src/config.js';
import { type Daemon, type DaemonOptions, startDaemon } from '../../src/daemon.js';
import { protocolLayers } from '../../src/wiring/protocols.js';
import { ADMIN_PASSWORD } from '../cli/helpers/live.js';
import { Inbox } from '../dhcp/helpers/harness.js';
import { parse, type Parsed } from '../dhcp/helpers/packets.js';
import { tempDir } from '../helpers/env.js';

export { ADMIN_PASSWORD };

/** A UDP port free right now (bound on port 0, then released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function bindUdp(port: number, address = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4' });
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

export interface Api {
  (method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: unknown; text: string; headers: Headers }>;
}

export interface Whole {
  daemon: Daemon;
  config: Config;
  logs: string[];
  api: Api;
  /** Sends a DHCP request from the client socket and waits for the reply with its xid. */
  ask(pkt: Buffer, ms?: number): Promise<Parsed | undefined>;
}

export async function startWhole(t: Test, overrides: Partial<Config> = {}, opts: Omit<DaemonOptions, 'layers'> = {}): Promise<Whole> {
  const client = await bindUdp(0);
  t.teardown(() => client.close());
  const inbox = new Inbox(client);
  const config: Config = {
    ...loadConfig({}, {}),
    dataDir: tempDir(t, 'fwire-'),
    httpPort: 0,
    httpHost: '127.0.0.1',
    tftpPort: await freeUdpPort(),
    dhcpPort: await freeUdpPort(),
    proxyDhcpPort: await freeUdpPort(),
    dhcpClientPort: client.address().port,
    logLevel: 'info',
    ...overrides,
  };
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const daemon = await startDaemon(config, {
    handleSignals: false,
    logDestination: sink,
    env: { FARRIER_ADMIN_PASSWORD: ADMIN_PASSWORD },
    ...opts,
    layers: protocolLayers({ dhcp: { explicit: { bindAddress: '127.0.0.1', iface: { name: 'lo', address: '127.0.0.1', prefix: 8, broadcastTo: '127.0.0.1' } } } }),
  });
  t.teardown(() => daemon.close());
  const auth = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
  const api: Api = async (method, path, body, contentType) => {
    const res = await fetch(`${daemon.url}${path}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a rendered file or other text
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  const ask = async (pkt: Buffer, ms = 5000): Promise<Parsed | undefined> => {
    const xid = parse(pkt).xid;
    client.send(pkt, config.dhcpPort, '127.0.0.1');
    return (await inbox.next(xid, ms))?.p;
  };
  return { daemon, config, logs, api, ask };
}

/** Polls `read` until `ok` holds (side effects of a packet land after its reply), up to `ms`. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
