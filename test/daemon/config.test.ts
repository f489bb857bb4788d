import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { configOptions, loadConfig } from '../../src/config.js';
import { tempDir } from '../helpers/env.js';

t.test('defaults', async (t) => {
  const c = loadConfig({}, {});
  t.match(c, { httpPort: 8091, tftpPort: 69, dhcpPort: 67, dhcpClientPort: 68, proxyDhcpPort: 4011, dhcpInterfaces: [], staticIp: null, logLevel: 'info', logFormat: 'json', strict: false, tftpBlockSizeMax: 1468, tftpWindowSizeMax: 16, loaderPaths: {} });
  t.ok(c.dataDir.startsWith('/'), 'data dir made absolute');
});

t.test('precedence: flag > env > file > default', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'farrier.yaml');
  writeFileSync(file, 'http-port: 9000\ntftpPort: 6969\ndhcpInterfaces: [eth1, eth2]\nloaderPaths: { ipxe.efi: /srv/ipxe.efi }\nstrict: true\n');
  const c = loadConfig({ config: file, httpPort: '9100' }, { FARRIER_TFTP_PORT: '7000', FARRIER_LOG_FORMAT: 'pretty' });
  t.equal(c.httpPort, 9100, 'flag wins');
  t.equal(c.tftpPort, 7000, 'env beats file');
  t.same(c.dhcpInterfaces, ['eth1', 'eth2'], 'file');
  t.same(c.loaderPaths, { 'ipxe.efi': '/srv/ipxe.efi' });
  t.equal(c.strict, true);
  t.equal(c.logFormat, 'pretty');
  const envList = loadConfig({}, { FARRIER_DHCP_INTERFACES: 'eth0, eth3', FARRIER_LOADER_PATHS: 'a=/x,b=/y', FARRIER_STRICT: 'yes', FARRIER_STATIC_IP: '10.0.0.5' });
  t.same(envList.dhcpInterfaces, ['eth0', 'eth3']);
  t.same(envList.loaderPaths, { a: '/x', b: '/y' });
  t.equal(envList.strict, true);
  t.equal(envList.staticIp, '10.0.0.5');
});

t.test('bad values name their source', async (t) => {
  t.throws(() => loadConfig({ httpPort: '99999' }, {}), /--http-port/);
  t.throws(() => loadConfig({}, { FARRIER_LOG_LEVEL: 'loud' }), /FARRIER_LOG_LEVEL.*one of/);
  t.throws(() => loadConfig({}, { FARRIER_STATIC_IP: 'host.example' }), /staticIp/);
  t.throws(() => loadConfig({ config: '/nonexistent/farrier.yaml' }, {}), /cannot read/);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bad.yaml'), 'htp-port: 1\n');
  t.throws(() => loadConfig({ config: join(dir, 'bad.yaml') }, {}), /unknown key "htp-port"/);
});

t.test('option table for the CLI: every key has a flag, env var and description', async (t) => {
  for (const o of configOptions) {
    t.match(o.flag, /^--[a-z-]+$/);
    t.equal(o.env, `FARRIER_${o.flag.slice(2).replace(/-/g, '_').toUpperCase()}`);
    t.ok(o.description.length > 5);
  }
  t.ok(configOptions.some((o) => o.flag === '--data-dir' && o.env === 'FARRIER_DATA_DIR'));
});
