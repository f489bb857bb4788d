/**
 * `farrier machines timeline` against a whole daemon (the timeline recorder runs with the protocol layers):
 * the stored entries as a table and as JSON, and --follow printing an entry recorded after it started.
 */
import t from 'tap';
import { cli } from './helpers/live.js';
import { eventually, startWhole } from '../wiring/helpers.js';

t.test('machines timeline lists and follows a machine\'s entries', async (t) => {
  const w = await startWhole(t, { dhcpEnabled: false, tftpEnabled: false });
  const live = { endpoint: w.daemon.url };
  t.equal((await w.api('POST', '/api/v1/bootenvs', { name: 'tl-x', os: { name: 'tl' }, kernel: 'vmlinuz', initrds: [], bootParams: '' })).status, 201);
  const machine = (await w.api('POST', '/api/v1/machines', { name: 'tl-cli', macs: ['52:54:00:7e:01:01'], bootenv: 'local' })).body as { uuid: string };
  t.equal((await w.api('POST', `/api/v1/machines/${machine.uuid}/bootenv`, { bootenv: 'tl-x' })).status, 200);
  await eventually(() => w.api('GET', `/api/v1/machines/${machine.uuid}/timeline`), (r) => Array.isArray(r.body) && r.body.length === 2);

  const table = await cli(live, ['machines', 'timeline', 'name:tl-cli', '-o', 'table']);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^TIME\s+KIND\s+WHAT\n/);
  t.match(table.stdout, /\n\S+\s+bootenv\s+created with bootenv local\n\S+\s+bootenv\s+bootenv local → tl-x\n$/, 'oldest first');
  const json = await cli(live, ['machines', 'timeline', 'mac:52:54:00:7e:01:01', '-o', 'json', '--limit', '1']);
  t.match(JSON.parse(json.stdout), [{ kind: 'bootenv', machine: machine.uuid, summary: 'bootenv local → tl-x' }], 'JSON, newest 1');
  t.equal((await cli(live, ['machines', 'timeline', 'name:nope'])).code, 1, 'unknown machine fails');

  const subscribers = w.daemon.services.bus.subscriberCount;
  const following = cli(live, ['machines', 'timeline', 'name:tl-cli', '--follow', '--count', '1', '-o', 'json']);
  await eventually(async () => w.daemon.services.bus.subscriberCount, (n) => n > subscribers);
  t.equal((await w.api('POST', '/api/v1/events', { type: 'machines', action: 'kickstart-done', key: machine.uuid })).status, 202);
  const followed = await following;
  t.equal(followed.code, 0, followed.stderr);
  const lines = followed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { summary: string });
  t.same(lines.map((l) => l.summary), ['created with bootenv local', 'bootenv local → tl-x', 'callback: kickstart-done'], 'history, then the new entry');
});
