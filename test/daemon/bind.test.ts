import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config.js';
import { type DaemonService, describeBindError, startDaemon } from '../../src/daemon.js';
import { tempDir } from '../helpers/env.js';
import { repoRoot } from '../api/harness.js';
import { Writable } from 'node:stream';

const quiet = (): Writable & { text: string } => {
  const w = new Writable({ write(c, _e, cb) { w.text += String(c); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
};

/** A real UDP service on `port`, the shape the DHCP/TFTP layers plug in with. */
function udpService(name: string, infoKey: string, port: number): DaemonService & { socket?: Socket } {
  const svc: DaemonService & { socket?: Socket } = {
    name, infoKey, port, portFlag: `--${infoKey}-port`, enabled: true,
    start: () => new Promise<void>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => {
        svc.socket = s;
        resolve();
      });
    }),
    stop: () => new Promise<void>((resolve) => (svc.socket ? svc.socket.close(() => resolve()) : resolve())),
  };
  return svc;
}

const baseConfig = (t: Test, extra: Record<string, unknown> = {}) =>
  loadConfig({ dataDir: tempDir(t), contentDir: repoRoot, httpPort: 0, httpHost: '127.0.0.1', ...extra } as never, {});

t.test('a service that cannot bind is reported, the rest keeps running', async (t) => {
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const busyPort = blocker.address().port;
  const ok = udpService('TFTP', 'tftp', 0);
  const log = quiet();
  const d = await startDaemon(baseConfig(t), { handleSignals: false, logDestination: log, env: { FARRIER_ADMIN_PASSWORD: 'admin-pass-1' }, services: [udpService('DHCP', 'dhcp', busyPort), ok] });
  t.teardown(() => d.close());
  const info = (await (await fetch(`${d.url}/api/v1/info`)).json()) as { services: Record<string, { enabled: boolean; port: number; error?: string }> };
  t.match(info.services.dhcp, { enabled: true, port: busyPort, error: new RegExp(`port ${busyPort} is already in use.*--dhcp-port`) });
  t.notOk(info.services.tftp?.error, 'the other service started');
  t.notOk(info.services.http.error);
  t.ok(ok.socket, 'started service holds its socket');
  const lines = log.text.split('\n').filter((l) => l.includes(`port ${busyPort} is already in use`));
  t.equal(lines.length, 1, 'one clear log line');
  await d.close();
  t.throws(() => ok.socket!.address(), 'services are stopped on close');
});

t.test('--strict makes a bind failure fatal', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  await t.rejects(startDaemon(baseConfig(t, { httpPort: port, strict: true }), { handleSignals: false, logDestination: quiet() }), new RegExp(`port ${port} is already in use.*--strict`));
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const first = udpService('DHCP', 'dhcp', 0);
  await t.rejects(
    startDaemon(baseConfig(t, { strict: true }), { handleSignals: false, logDestination: quiet(), services: [first, udpService('TFTP', 'tftp', blocker.address().port)] }),
    /already in use/,
  );
  t.throws(() => first.socket!.address(), 'services already started are stopped when --strict aborts');
  const d = await startDaemon(baseConfig(t, { httpPort: port }), { handleSignals: false, logDestination: quiet() });
  t.match(d.status().http, { port, error: /already in use/ }, 'without --strict the daemon runs on');
  await d.close();
});

t.test('privileged-port remedy', async (t) => {
  const err = Object.assign(new Error('bind EACCES'), { code: 'EACCES' });
  t.equal(describeBindError(err, 'TFTP', 69, '--tftp-port'), 'TFTP: port 69 needs root or CAP_NET_BIND_SERVICE: run as root, `setcap cap_net_bind_service=+ep $(which node)`, or pass --tftp-port 6969');
  t.match(describeBindError(err, 'DHCP', 67, '--dhcp-port'), /--dhcp-port 6767$/);
});
