/** `farrier explain` against a whole daemon: the readable report and the JSON report, by MAC and by name. */
import t from 'tap';
import { cli } from './helpers/live.js';
import { startWhole } from '../wiring/helpers.js';

t.test('explain prints a readable report and JSON', async (t) => {
  const w = await startWhole(t, { dhcpEnabled: false, tftpEnabled: false });
  const live = { endpoint: w.daemon.url };
  t.equal((await w.api('POST', '/api/v1/bootenvs', { name: 'cx', os: { name: 'cxos' }, kernel: 'vmlinuz', initrds: [], bootParams: 'x={{param "cx/nope"}}' })).status, 201);
  t.equal((await w.api('POST', '/api/v1/machines', { name: 'cx1', macs: ['52:54:00:e9:00:01'], bootenv: 'cx' })).status, 201);

  const report = await cli(live, ['explain', '52:54:00:e9:00:01', '--arch', 'uefi', '-o', 'table']);
  t.equal(report.code, 0, report.stderr);
  t.match(report.stdout, /^Boot of machine cx1 \(.+\), MAC 52:54:00:e9:00:01 as uefi firmware\n/);
  t.match(report.stdout, /\nDHCP\nSTAGE\s+ASKS AS\s+BOOT FILE\s+NEXT-SERVER\s+WHY\nfirmware\s+PXEClient:Arch:00007\S*\s+ipxe\.efi\s+/, 'the DHCP table');
  t.match(report.stdout, /\nipxe\s+PXEClient:Arch:00007\S* \+ iPXE\s+http:\/\/\S+\/boot\.ipxe/);
  t.match(report.stdout, /\n52-54-00-e9-00-01\.ipxe\s+script\s+NO\s+MISSING: .*cx\/nope/, 'the script row names the render error');
  t.match(report.stdout, /\nProblems \(\d+\):\n(.*\n)*  - render error in 52-54-00-e9-00-01\.ipxe: /);

  const json = await cli(live, ['explain', 'name:cx1', '--ipxe', '-o', 'json']);
  t.equal(json.code, 0, json.stderr);
  t.match(JSON.parse(json.stdout), { mac: '52:54:00:e9:00:01', ipxe: true, arch: 'bios', machine: { name: 'cx1' }, dhcp: { stages: [{ stage: 'ipxe' }] } });

  const bad = await cli(live, ['explain', 'name:cx1', '--arch', 'sparc']);
  t.equal(bad.code, 2, 'an unknown --arch is a usage error');
});
