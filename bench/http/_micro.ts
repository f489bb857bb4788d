import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../../src/daemon.js';
import { loadConfig } from '../../src/config.js';
import { protocolLayers } from '../../src/wiring/protocols.js';
import { Writable } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
const dir = mkdtempSync(join(tmpdir(), 'fmicro-'));
const config = { ...loadConfig({}, {}), dataDir: dir, httpPort: 0, httpHost: '127.0.0.1', tftpEnabled: false, dhcpEnabled: false };
const sink = new Writable({ write(_c, _e, cb) { cb(); } });
const d = await startDaemon(config, { handleSignals: false, logDestination: sink, env: { FARRIER_ADMIN_PASSWORD: 'pw' }, layers: protocolLayers() });
const out = (await promisify(execFile)('node', ['/work/main/bench/http/setup.mjs', d.url, 'pw', '1'])).stdout;
const uuid = JSON.parse(out.split('\n')[0]).uuid;
const path = `/machines/${uuid}/ks.cfg`;
const N = 20000;
for (let round = 0; round < 3; round++) {
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await d.app.inject({ method: 'GET', url: path });
  let t1 = process.hrtime.bigint();
  console.log(`inject ks: ${Number(t1 - t0) / N / 1000} us/req`);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await d.app.inject({ method: 'GET', url: '/api/v1/nosuch-x' });
  t1 = process.hrtime.bigint();
  console.log(`inject 404 api: ${Number(t1 - t0) / N / 1000} us/req`);
}
await d.close();
