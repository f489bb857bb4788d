/**
 * GET /metrics of a whole daemon after real DHCP (loopback), TFTP (atftp) and HTTP boot-file traffic:
 * packet counters by type, decisions, pool usage and lease counts, transfers/bytes/durations per protocol,
 * render errors, API request durations and the process/event-loop metrics; --metrics-auth requires credentials.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ACK, build, DISCOVER, ipBytes, OFFER, REQUEST } from '../dhcp/helpers/packets.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { eventually, startWhole } from '../wiring/helpers.js';

const run = promisify(execFile);
const MAC = '52:54:00:4d:00:01';
const pxe = (type: number, extra: Array<[number, Buffer | number[] | string]> = [], mac = MAC) =>
  build({ type, mac, options: [[60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [55, [1, 3, 6, 15, 66, 67]], ...extra] });

/** The value of one sample line, e.g. `farrier_dhcp_packets_total{direction="in",type="discover"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('counters move with real DHCP, TFTP and HTTP traffic', async (t) => {
  const w = await startWhole(t);
  const { api } = w;
  t.equal((await api('POST', '/api/v1/bootenvs', { name: 'met', os: { name: 'met' }, kernel: 'vmlinuz', initrds: [], bootParams: 'x={{param "nope"}}' })).status, 201);
  t.equal((await api('POST', '/api/v1/subnets', { name: 'lo', cidr: '127.0.0.0/16', activeStart: '127.0.5.1', activeEnd: '127.0.5.4' })).status, 201);
  t.equal((await api('POST', '/api/v1/machines', { name: 'm1', macs: [MAC], bootenv: 'met' })).status, 201);

  const scrape = async () => {
    const res = await fetch(`${w.daemon.url}/metrics`);
    t.equal(res.status, 200, 'scraped without credentials by default');
    t.match(res.headers.get('content-type'), /^text\/plain/);
    return res.text();
  };
  const before = await scrape();
  t.equal(sample(before, 'farrier_dhcp_pool_used_ratio{subnet="lo"}'), 0, 'empty pool');

  t.equal((await w.ask(pxe(DISCOVER)))?.type, OFFER);
  t.equal((await w.ask(pxe(REQUEST, [[54, ipBytes('127.0.0.1')], [50, ipBytes('127.0.5.1')]])))?.type, ACK);
  t.equal((await fetch(`${w.daemon.url}/boot.ipxe`)).status, 200, 'an HTTP boot file');
  t.equal((await fetch(`${w.daemon.url}/no/such/file`)).status, 404, 'a missing one');
  t.equal((await fetch(`${w.daemon.url}/52-54-00-4d-00-01.ipxe`)).status >= 400, true, 'a render error (missing param)');
  let tftpRan = false;
  if (requireTool(t, 'atftp')) {
    const dir = tempDir(t, 'fmet-');
    await run('atftp', ['-g', '-r', 'boot.ipxe', '-l', join(dir, 'b'), '127.0.0.1', String(w.config.tftpPort)]);
    tftpRan = true;
  }

  const text = await eventually(scrape, (s) => (sample(s, 'farrier_render_errors_total') ?? 0) > 0 && (!tftpRan || (sample(s, 'farrier_boot_transfers_total{protocol="tftp",outcome="complete"}') ?? 0) > 0));
  t.equal(sample(text, 'farrier_dhcp_packets_total{direction="in",type="discover"}'), 1, 'one DISCOVER in');
  t.equal(sample(text, 'farrier_dhcp_packets_total{direction="out",type="offer"}'), 1, 'one OFFER out');
  t.equal(sample(text, 'farrier_dhcp_packets_total{direction="out",type="ack"}'), 1, 'one ACK out');
  t.ok(sumPrefix(text, 'farrier_dhcp_decisions_total{') >= 2, 'boot decisions counted by reason (DISCOVER and REQUEST)');
  t.equal(sample(text, 'farrier_dhcp_pool_used_ratio{subnet="lo"}'), 0.25, 'one of four addresses bound');
  t.equal(sample(text, 'farrier_dhcp_leases{state="bound"}'), 1, 'one bound lease');
  t.equal(sample(text, 'farrier_boot_transfers_total{protocol="http",outcome="200"}'), 1, 'one HTTP 200');
  t.equal(sample(text, 'farrier_boot_transfers_total{protocol="http",outcome="404"}'), 1, 'one HTTP 404');
  t.ok((sample(text, 'farrier_boot_transfer_bytes_total{protocol="http"}') ?? 0) > 0, 'HTTP bytes');
  t.ok((sample(text, 'farrier_boot_transfer_duration_seconds_count{protocol="http"}') ?? 0) >= 3, 'HTTP durations observed');
  t.ok((sample(text, 'farrier_boot_transfer_errors_total{protocol="http"}') ?? 0) >= 2, 'HTTP errors');
  t.equal(sample(text, 'farrier_render_errors_total'), 1, 'the render error');
  if (tftpRan) {
    t.ok((sample(text, 'farrier_boot_transfer_bytes_total{protocol="tftp"}') ?? 0) > 0, 'TFTP bytes');
    t.equal(sample(text, 'farrier_boot_transfer_duration_seconds_count{protocol="tftp"}'), 1, 'TFTP duration observed');
  }
  t.ok((sample(text, 'farrier_http_request_duration_seconds_count{route="/api/v1/machines",method="POST",status="201"}') ?? 0) >= 1, 'API request histogram by route/method/status');
  t.match(text, /^farrier_process_nodejs_eventloop_lag_seconds \d/m, 'event-loop lag');
});

/** Sum of every sample whose series starts with `prefix`. */
function sumPrefix(text: string, prefix: string): number {
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

t.test('--metrics-auth requires API credentials', async (t) => {
  const w = await startWhole(t, { metricsAuth: true, dhcpEnabled: false, tftpEnabled: false });
  t.equal((await fetch(`${w.daemon.url}/metrics`)).status, 401, 'anonymous scrape refused');
  const ok = await w.api('GET', '/metrics');
  t.equal(ok.status, 200, 'with credentials');
  t.match(ok.text, 'farrier_dhcp_leases');
});
