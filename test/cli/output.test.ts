import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { collection } from '../../src/cli/collections.js';
import { renderParams } from '../../src/cli/commands/params.js';
import { renderList, renderObject, renderTable, resolveFormat } from '../../src/cli/output.js';

const machine = {
  uuid: '3f0c6a2e-1111-4222-8333-444455556666',
  name: 'web1',
  macs: ['52:54:00:12:34:56', '52:54:00:ab:cd:ef'],
  address: null,
  bootenv: 'local',
  available: true,
  params: { rack: 'r4' },
};

t.test('format defaults to table on a terminal and json otherwise; unknown formats are usage errors', async (t) => {
  t.equal(resolveFormat(undefined, true), 'table');
  t.equal(resolveFormat(undefined, false), 'json');
  t.equal(resolveFormat('yaml', true), 'yaml');
  t.throws(() => resolveFormat('xml', false), { name: 'UsageError', message: /use json, yaml or table/ });
});

t.test('machine tables show uuid, name, macs, address, bootenv, available in padded columns', async (t) => {
  const other = { ...machine, uuid: 'u2', name: 'db-server-01', macs: [], address: '10.0.0.5', available: false };
  const out = renderList([machine, other], 'table', collection('machines').columns);
  const lines = out.trimEnd().split('\n');
  t.equal(lines.length, 3);
  t.match(lines[0], /^UUID\s+NAME\s+MACS\s+ADDRESS\s+BOOTENV\s+AVAILABLE$/);
  t.match(lines[1], /^3f0c6a2e-1111-4222-8333-444455556666\s+web1\s+52:54:00:12:34:56,52:54:00:ab:cd:ef\s+-\s+local\s+true$/);
  t.match(lines[2], /^u2\s+db-server-01\s+-\s+10\.0\.0\.5\s+local\s+false$/);
  // Every column starts at the same offset on every line.
  const nameCol = lines[0]!.indexOf('NAME');
  t.equal(lines[1]!.indexOf('web1'), nameCol);
  t.equal(lines[2]!.indexOf('db-server-01'), nameCol);
  t.notOk(lines.some((l) => l.endsWith(' ')), 'no trailing blanks');
});

t.test('subnet tables show the active range as start-end', async (t) => {
  const out = renderList(
    [{ name: 'lab', cidr: '10.10.0.0/24', activeStart: '10.10.0.100', activeEnd: '10.10.0.200', proxy: false, enabled: true }],
    'table',
    collection('subnets').columns,
  );
  t.match(out, /^NAME\s+CIDR\s+RANGE\s+PROXY\s+ENABLED\nlab\s+10\.10\.0\.0\/24\s+10\.10\.0\.100-10\.10\.0\.200\s+false\s+true\n$/);
});

t.test('json and yaml output round-trip the API objects unchanged', async (t) => {
  t.same(JSON.parse(renderList([machine], 'json', [])), [machine]);
  t.same(parseYaml(renderList([machine], 'yaml', [])), [machine]);
  t.same(parseYaml(renderList([], 'yaml', [])), []);
  t.same(JSON.parse(renderObject(machine, 'json')), machine);
  t.same(parseYaml(renderObject(machine, 'yaml')), machine);
});

t.test('a single object in table form is a FIELD/VALUE listing with nested values as JSON', async (t) => {
  const out = renderObject(machine, 'table');
  t.match(out, /^FIELD\s+VALUE\n/);
  t.match(out, /\nmacs\s+52:54:00:12:34:56,52:54:00:ab:cd:ef\n/);
  t.match(out, /\nparams\s+\{"rack":"r4"\}\n/);
  t.match(out, /\naddress\s+-\n/);
});

t.test('aggregated params show where each value came from', async (t) => {
  const out = renderParams(
    {
      rack: { value: 'r4', source: 'machine', secure: false },
      'ntp-server': { value: '10.0.0.1', source: 'profile:rack4', secure: false },
    },
    'table',
  );
  t.match(out, /^NAME\s+VALUE\s+SOURCE\nrack\s+r4\s+machine\nntp-server\s+10\.0\.0\.1\s+profile:rack4\n$/);
  t.match(renderParams({ rack: 'r4' }, 'table'), /^NAME\s+VALUE\nrack\s+r4\n$/);
});

t.test('renderTable keeps the header alone when there are no rows', async (t) => {
  t.equal(renderTable(['name', 'cidr'], []), 'NAME  CIDR\n');
});
