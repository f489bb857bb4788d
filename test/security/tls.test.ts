/**
 * Optional TLS (--tls-cert/--tls-key): a self-signed certificate made by openssl in the test; the API and
 * Swagger UI over HTTPS (curl --cacert, and the CLI with --ca-cert / FARRIER_CA_CERT); boot files and
 * machine-token callbacks stay on plain HTTP, where user credentials are refused with a pointer to HTTPS.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { startDaemon } from '../../src/daemon.js';
import { cli } from '../cli/helpers/live.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { ADMIN_PASSWORD, basic, startSecurityDaemon } from './helpers.js';

const run = promisify(execFile);

async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=farrier-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ]);
  return { cert, key };
}

/** curl's HTTP status (and body) for a URL; `code` is curl's own exit status (60: certificate not trusted). */
async function curl(args: string[]): Promise<{ code: number; status: number; body: string }> {
  try {
    const { stdout } = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args]);
    const cut = stdout.lastIndexOf('\n');
    return { code: 0, status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
  } catch (err) {
    return { code: (err as { code: number }).code, status: 0, body: String((err as { stderr?: string }).stderr) };
  }
}

t.test('API over HTTPS, boot files and machine callbacks on plain HTTP', async (t) => {
  if (!requireTool(t, 'openssl') || !requireTool(t, 'curl')) return;
  const dir = tempDir(t, 'ftls-');
  const tls = await selfSigned(dir);
  const d = await startSecurityDaemon(t, { tlsCert: tls.cert, tlsKey: tls.key, httpsPort: 0, tftpEnabled: false, dhcpEnabled: false });
  const https = d.daemon.httpsUrl!;
  t.match(https, /^https:\/\/127\.0\.0\.1:\d+$/, `HTTPS API at ${https}`);
  const httpsPort = new URL(https).port;

  const info = await curl(['--cacert', tls.cert, `${https}/api/v1/info`]);
  t.equal(info.status, 200, 'GET /api/v1/info over HTTPS');
  t.match(JSON.parse(info.body), { services: { https: { enabled: true, port: Number(httpsPort) }, http: { enabled: true } } }, 'info names the HTTPS service');
  const machines = await curl(['--cacert', tls.cert, '-u', `admin:${ADMIN_PASSWORD}`, '-X', 'POST', '-H', 'content-type: application/json', '-d', '{"name":"tls-m","macs":["52:54:00:7e:00:01"]}', `${https}/api/v1/machines`]);
  t.equal(machines.status, 201, 'a password works over HTTPS');
  const m = JSON.parse(machines.body) as { uuid: string };
  t.equal((await curl(['--cacert', tls.cert, '-L', `${https}/swagger/`])).status, 200, 'Swagger UI over HTTPS');
  t.equal((await curl(['--cacert', tls.cert, `${https}/openapi.yaml`])).status, 200, 'the spec over HTTPS');
  const untrusted = await curl([`${https}/api/v1/info`]);
  t.equal(untrusted.code, 60, 'without --cacert curl refuses the self-signed certificate');

  // Plain HTTP: user credentials are refused (before any password check) and pointed at HTTPS.
  const plainBasic = await d.send('GET', '/api/v1/machines', { auth: basic('admin', ADMIN_PASSWORD) });
  t.equal(plainBasic.status, 403);
  t.match(plainBasic.body, { code: 'FORBIDDEN', message: new RegExp(`HTTPS only: use https://<host>:${httpsPort}/api/v1/machines`) });
  const userToken = JSON.parse((await curl(['--cacert', tls.cert, '-u', `admin:${ADMIN_PASSWORD}`, '-X', 'POST', `${https}/api/v1/tokens`])).body) as { token: string };
  t.equal((await d.send('GET', '/api/v1/machines', { auth: `Bearer ${userToken.token}` })).status, 403, 'a user token is refused on plain HTTP too');
  t.equal((await curl(['--cacert', tls.cert, '-H', `authorization: Bearer ${userToken.token}`, `${https}/api/v1/machines`])).status, 200, 'and works over HTTPS');
  t.equal((await d.send('GET', '/api/v1/info')).status, 200, 'GET /api/v1/info stays on plain HTTP');

  // Machines: boot files and their token callbacks on plain HTTP, as firmware and installers use them.
  const machineToken = JSON.parse((await curl(['--cacert', tls.cert, '-u', `admin:${ADMIN_PASSWORD}`, '-X', 'POST', '-H', 'content-type: application/json', '-d', '{}', `${https}/api/v1/machines/${m.uuid}/token`])).body) as { token: string };
  const boot = await fetch(`${d.daemon.url}/52-54-00-7e-00-01.ipxe`);
  t.equal(boot.status, 200, 'the machine\'s boot file over plain HTTP');
  t.match(await boot.text(), /^#!ipxe/);
  t.equal((await curl(['--cacert', tls.cert, `${https}/52-54-00-7e-00-01.ipxe`])).status, 404, 'boot files are not on the HTTPS port');
  const callback = await d.send('POST', `/api/v1/machines/${m.uuid}/bootenv`, { auth: `Bearer ${machineToken.token}`, payload: 'bootenv=local', contentType: 'application/x-www-form-urlencoded' });
  t.equal(callback.status, 200, 'the installer callback with the machine token works on plain HTTP');

  // The CLI against HTTPS.
  const env = { FARRIER_ENDPOINT: https, FARRIER_USER: 'admin', FARRIER_PASSWORD: ADMIN_PASSWORD };
  const listed = await cli({ endpoint: https }, ['--ca-cert', tls.cert, 'machines', 'list', '-o', 'json'], { env });
  t.equal(listed.code, 0, listed.stderr);
  t.match(JSON.parse(listed.stdout), [{ name: 'tls-m' }], 'farrier --ca-cert lists machines over HTTPS');
  const viaEnv = await cli({ endpoint: https }, ['machines', 'show', `name:tls-m`, '-o', 'json'], { env: { ...env, FARRIER_CA_CERT: tls.cert } });
  t.equal(viaEnv.code, 0, `FARRIER_CA_CERT works: ${viaEnv.stderr}`);
  const noCa = await cli({ endpoint: https }, ['machines', 'list'], { env });
  t.equal(noCa.code, 3, 'without the CA the CLI cannot reach the daemon');
  t.match(noCa.stderr, /cannot reach the Farrier daemon/);
  const onPlain = await cli({ endpoint: d.daemon.url }, ['machines', 'list'], { env: { ...env, FARRIER_ENDPOINT: d.daemon.url } });
  t.equal(onPlain.code, 1, 'a password on the plain HTTP endpoint is refused');
  t.match(onPlain.stderr, /HTTPS only/);
  const missingCa = await cli({ endpoint: https }, ['--ca-cert', join(dir, 'nope.pem'), 'machines', 'list'], { env });
  t.equal(missingCa.code, 2, 'an unreadable --ca-cert is a usage error');
  t.match(missingCa.stderr, /nope\.pem/);
});

t.test('TLS configuration errors are clear', async (t) => {
  t.throws(() => loadConfig({ tlsCert: '/x/cert.pem' }, {}), /needs both --tls-cert and --tls-key/, 'a certificate without a key');
  t.throws(() => loadConfig({}, { FARRIER_TLS_KEY: '/x/key.pem' }), /needs both --tls-cert and --tls-key/, 'a key without a certificate (env)');
  const dir = tempDir(t, 'ftls-');
  const yaml = join(dir, 'farrier.yaml');
  writeFileSync(yaml, 'tlsCert: /etc/farrier/cert.pem\ntls-key: /etc/farrier/key.pem\nhttpsPort: 9443\n');
  t.match(loadConfig({ config: yaml }, {}), { tlsCert: '/etc/farrier/cert.pem', tlsKey: '/etc/farrier/key.pem', httpsPort: 9443 }, 'the YAML file takes the same keys');
  t.match(loadConfig({}, {}), { tlsCert: null, tlsKey: null, httpsPort: 8443 }, 'off by default');

  const base = { ...loadConfig({}, {}), dataDir: join(dir, 'data'), httpPort: 0, httpHost: '127.0.0.1', httpsPort: 0, tftpEnabled: false, dhcpEnabled: false, logLevel: 'silent' as const };
  await t.rejects(startDaemon({ ...base, tlsCert: join(dir, 'missing.pem'), tlsKey: join(dir, 'missing.key') }, { handleSignals: false, env: { FARRIER_ADMIN_PASSWORD: 'x-password' } }), /--tls-cert .*missing\.pem/, 'a missing certificate file stops the start, naming it');
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
  await t.rejects(startDaemon({ ...base, tlsCert: join(dir, 'junk.pem'), tlsKey: join(dir, 'junk.pem') }, { handleSignals: false, env: { FARRIER_ADMIN_PASSWORD: 'x-password' } }), /not a usable PEM certificate and key/, 'a file that is no certificate too');
});
