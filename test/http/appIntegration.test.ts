/**
 * Boot files mounted at `/` inside the real API app: the API, Swagger UI and the spec keep working, an
 * unknown API path gets the API's error envelope, and the info endpoint lists the loaders.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { loadSpec } from '../../src/api/spec.js';
import { buildApp } from '../../src/app.js';
import { createBootLayer } from '../../src/boot/index.js';
import { loadConfig } from '../../src/config.js';
import { loadRepoContent } from '../../src/core/content.js';
import { createServices } from '../../src/core/services.js';
import { EventBus } from '../../src/events/bus.js';
import { bootFilesPlugin } from '../../src/http/bootFiles.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { repoRoot } from '../boot/fixtures.js';

t.test('boot files beside the API', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fboot-app-'));
  const store = await openSqliteStore(join(dir, 'farrier.db'));
  mkdirSync(join(dir, 'files'), { recursive: true });
  writeFileSync(join(dir, 'files/hello.txt'), 'hello');
  const bus = new EventBus();
  const logger = pino({ level: 'silent' });
  const services = await createServices(store, bus, logger, { content: await loadRepoContent(repoRoot), tokenKey: Buffer.alloc(32, 3), tokenTtl: 3600, machineTokenTtl: 3600 });
  const config = { ...loadConfig({}, {}), dataDir: dir, staticIp: null, loaderPaths: {} };
  const boot = createBootLayer(services, config, logger);
  const down = { enabled: false, port: 0 };
  const app = await buildApp({
    services,
    logger,
    spec: loadSpec(repoRoot),
    info: { version: 'test', startedAt: Date.now(), services: () => ({ dhcp: down, tftp: down, http: down }), loaders: boot.info },
    plugins: [async (a) => a.register(bootFilesPlugin, { tree: boot.tree, publish: (e) => bus.publish(e) })],
  });
  t.teardown(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  t.equal((await app.inject({ method: 'GET', url: '/hello.txt' })).body, 'hello');
  t.match((await app.inject({ method: 'GET', url: '/boot.ipxe' })).body, /^#!ipxe\n/);
  t.match((await app.inject({ method: 'GET', url: '/52-54-00-99-99-99.ipxe' })).body, /\nexit\n/, 'unknown machine: unknownBootEnv ignore');
  const info = await app.inject({ method: 'GET', url: '/api/v1/info' });
  t.equal(info.statusCode, 200);
  t.match(info.json(), { loaders: { 'undionly.kpxe': { path: '/usr/lib/ipxe/undionly.kpxe', package: 'ipxe' }, 'shimx64.efi': { package: 'shim-signed' } } });
  t.equal((await app.inject({ method: 'GET', url: '/openapi.yaml' })).statusCode, 200);
  t.equal((await app.inject({ method: 'GET', url: '/swagger/' })).statusCode, 200);
  const unknownApi = await app.inject({ method: 'GET', url: '/api/v1/nosuch' });
  t.equal(unknownApi.statusCode, 404);
  t.equal(unknownApi.json().code, 'NOT_FOUND', 'the API error envelope, not a boot-file reason');
});
