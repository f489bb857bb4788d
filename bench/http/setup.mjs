#!/usr/bin/env node
// Creates the benchmark's objects through Farrier's REST API: template `bench-ks` (a kickstart reading 50
// params, 20 from the machine, 20 from profile `bench`, 10 from `global`, wrapping the shipped Rocky
// kickstart and its token callback), bootenv `bench` (kernel bench/vmlinuz, the built-in iPXE/pxelinux
// templates, kickstart at machines/<uuid>/ks.cfg) and N machines on it. Prints one JSON line per machine:
// {"uuid","mac","name"}.  usage: node setup.mjs <base url> <admin password> <machines>
const [base, password, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1);
const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

async function api(method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

const pad = (n) => String(n).padStart(2, '0');
const lines = [];
for (let i = 1; i <= 40; i++) lines.push(`export BENCH_P${pad(i)}='{{params.bench-p${pad(i)}}}'`);
for (let i = 41; i <= 45; i++) lines.push(`export BENCH_P${pad(i)}='{{join params.bench-p${pad(i)} ","}}'`);
for (let i = 46; i <= 50; i++) lines.push(`export BENCH_P${pad(i)}='{{default params.bench-p${pad(i)} "unset"}}'`);
const contents = [
  '# Farrier bench kickstart for {{machine.name}} ({{machine.uuid}}, {{machine.mac}})',
  '{{> rocky-kickstart}}',
  '%pre --log=/tmp/farrier-params.log',
  ...lines,
  '%end',
  '',
].join('\n');

await api('POST', '/templates', { id: 'bench-ks', contents, description: 'benchmark kickstart with 50 params' });
await api('POST', '/bootenvs', {
  name: 'bench',
  description: 'benchmark bootenv',
  os: { name: 'bench' },
  kernel: 'vmlinuz',
  initrds: [],
  bootParams: 'inst.ks={{machine.url}}/ks.cfg inst.repo={{provisionerUrl}}/bench ip=dhcp {{default params.kernel-console "console=ttyS0,115200n8"}}',
  templates: [{ name: 'kickstart', path: '{{machine.path}}/ks.cfg', templateId: 'bench-ks' }],
});
const profileParams = {};
for (let i = 21; i <= 40; i++) profileParams[`bench-p${pad(i)}`] = `profile-value-${pad(i)}`;
await api('POST', '/profiles', { name: 'bench', params: profileParams });
const globalParams = {};
for (let i = 41; i <= 45; i++) globalParams[`bench-p${pad(i)}`] = [`a${i}.example.org`, `b${i}.example.org`, `c${i}.example.org`];
for (let i = 46; i <= 50; i++) globalParams[`bench-p${pad(i)}`] = `global-value-${pad(i)}`;
await api('PUT', '/profiles/global/params', globalParams);

async function createMachine(n) {
  const params = {};
  for (let i = 1; i <= 20; i++) params[`bench-p${pad(i)}`] = `machine-${n}-value-${pad(i)}`;
  const mac = `52:54:00:${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  const address = `10.${90 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
  const m = await api('POST', '/machines', { name: `bench-${n}`, macs: [mac], address, bootenv: 'bench', profiles: ['bench'], params });
  return { uuid: m.uuid, mac, name: m.name, address };
}
// A few at a time: the API serialises writes anyway, and the machine has 2 cores.
const out = [];
for (let start = 1; start <= count; start += 8) {
  const batch = [];
  for (let n = start; n < start + 8 && n <= count; n++) batch.push(createMachine(n));
  out.push(...(await Promise.all(batch)));
}
for (const m of out) console.log(JSON.stringify(m));
