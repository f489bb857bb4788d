/**
 * Property-based API fuzz: every operation in openapi.yaml gets generated requests (see apiFuzzGen.ts) as
 * admin, in-process through fastify.inject and — for a sample — over a real listening socket. For every
 * answer: never a 500, the status is one the spec documents for that operation, error bodies are the
 * spec's envelope and validation errors name the field; a refused request changes nothing (every
 * collection, the prefs and the files under the data dir are compared before and after).
 * Reproduce a run with FUZZ_SEED=<seed printed in the output>; FUZZ_ROUNDS sets valid requests per operation.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { createSpecAjv, rewriteRefs } from '../../src/api/spec.js';
import type { TreeClient } from '../../src/boot/tree.js';
import { loadConfig } from '../../src/config.js';
import { DaemonBootLayer } from '../../src/wiring/bootLayer.js';
import { makeHarness, ResponseChecker, basic, PASSWORDS } from '../api/harness.js';
import {
  BAD_CONTENT_TYPES,
  BAD_JSON,
  BAD_JSON_PATCHES,
  BAD_MERGE_PATCHES,
  BAD_PATH_VALUES,
  ODD_JSON_PATCHES,
  ODD_MERGE_PATCHES,
  ODD_QUERIES,
  type Expect,
  type FuzzCase,
  type Op,
  Rng,
  badQueries,
  deepArray,
  deepObject,
  genValue,
  operations,
  resolve,
  wrongValues,
} from './apiFuzzGen.js';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const ROUNDS = process.env.FUZZ_ROUNDS ? Number(process.env.FUZZ_ROUNDS) : 3;
/** Share of cases also sent over a real socket. */
const WIRE_SHARE = 0.08;
/** Share of operations that get each megabyte-sized case (over the body limit, deep nesting). */
const HEAVY_SHARE = 0.5;
/** `path` query values (render, file listing): the machine's own file, boot files, nothing, and escapes. */
const FILE_PATHS = ['t', 'ipxe', 'default.ipxe', 'pxelinux.cfg/default', 'fz/a.txt', 'nothing', '', '/', '../../../etc/passwd', 'machines/../../x', '\0', 'a'.repeat(3000), '%zz', 'machines/fz-other/t', '{{x}}'];

type Schema = Record<string, unknown>;

interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

t.test(`API fuzz from openapi.yaml (FUZZ_SEED=${seed})`, async (t) => {
  t.comment(`FUZZ_SEED=${seed} FUZZ_ROUNDS=${ROUNDS}`);
  const rng = new Rng(seed);
  const dataDir = mkdtempSync(join(tmpdir(), 'fapifuzz-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const bootRoot = join(dataDir, 'boot');
  // The real boot layer behind the render and explain routes; it needs the harness's services, so the
  // app gets a forwarder that the layer is plugged into once they exist.
  let layer: DaemonBootLayer | undefined;
  const boot = {
    provisionerUrl: (c: TreeClient) => layer!.provisionerUrl(c),
    renderForMachine: (uuid: string, path: string, url: string) => layer!.renderForMachine(uuid, path, url),
    lookup: (path: string, c: TreeClient) => layer!.lookup(path, c),
  };
  const h = await makeHarness(t, { files: { bootRoot }, render: boot, explain: boot });
  layer = new DaemonBootLayer(h.services, { ...loadConfig({}, {}), dataDir }, pino({ level: 'silent' }));
  layer.start(8091);
  const { app, services: s } = h;
  const doc = h.spec.doc;
  const ajv = createSpecAjv(doc);
  const checker = new ResponseChecker(doc);

  const mint = async (): Promise<string> => {
    const tok = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { authorization: basic('admin', PASSWORDS.admin) } });
    return (JSON.parse(tok.body) as { token: string }).token;
  };
  let adminToken = await mint();

  // Fixtures every operation's path parameters point at; recreated whenever a successful request removed one.
  const fx = { machine: '' };
  async function ensureFixtures(): Promise<void> {
    const exists = async (f: () => Promise<unknown>): Promise<boolean> => f().then(() => true, () => false);
    if (!(await exists(() => s.templates.get('fz-tpl')))) await s.templates.create({ id: 'fz-tpl', contents: 'hello {{machine.name}}\n' });
    if (!(await exists(() => s.bootenvs.get('fz-env')))) {
      await s.bootenvs.create({ name: 'fz-env', os: { name: 'fz' }, kernel: 'vmlinuz', templates: [{ name: 't', path: 'machines/{{machine.uuid}}/t', templateId: 'fz-tpl' }] });
    }
    if (!(await exists(() => s.params.get('fz/num')))) await s.params.create({ name: 'fz/num', schema: { type: 'integer' } });
    if (!(await exists(() => s.profiles.get('fz-prof')))) await s.profiles.create({ name: 'fz-prof', params: { 'fz/num': 1 } });
    // A valid patch may have renamed it or dropped its MAC: found by either, both are put back.
    const m = (await s.machines.get('mac:52:54:00:fa:00:01').catch(() => undefined)) ?? (await s.machines.get('name:fz-m').catch(() => undefined));
    if (m && (m.name !== 'fz-m' || !m.macs.includes('52:54:00:fa:00:01'))) await s.machines.patch(m.uuid, { name: 'fz-m', macs: ['52:54:00:fa:00:01'] }, 'merge');
    if (m) fx.machine = m.uuid;
    else fx.machine = (await s.machines.create({ name: 'fz-m', macs: ['52:54:00:fa:00:01'], profiles: ['fz-prof'], params: { 'fz/num': 2 } })).uuid;
    if (!(await exists(() => s.subnets.get('fz-net')))) await s.subnets.create({ name: 'fz-net', cidr: '10.99.0.0/24' });
    if (!(await exists(() => s.reservations.get('10.99.0.10')))) await s.reservations.create({ address: '10.99.0.10', mac: '52:54:00:fa:00:02' });
    if (!(await s.store.getLease('10.99.0.20'))) {
      await s.store.putLease({ address: '10.99.0.20', mac: '52:54:00:fa:00:03', state: 'bound', expiresAt: new Date(Date.now() + 3.6e6).toISOString(), subnet: 'fz-net', hostname: null, clientId: null, updatedAt: new Date().toISOString() });
    }
    if (!(await s.users.getRaw('fz-user'))) await s.users.create({ name: 'fz-user', role: 'operator', password: 'fz-user-password' });
  }

  function goodPathValue(specPath: string, name: string): string {
    if (name === 'path') return 'fz/a.txt';
    if (specPath.startsWith('/api/v1/isos/')) return 'fz.iso';
    if (name === 'name' && /\/(machines|profiles)\/\{key\}\/params\//.test(specPath)) return encodeURIComponent('fz/num');
    const coll = specPath.split('/')[3];
    switch (coll) {
      case 'machines':
        return '__MACHINE__';
      case 'bootenvs':
        return 'fz-env';
      case 'templates':
        return 'fz-tpl';
      case 'profiles':
        return 'fz-prof';
      case 'params':
        return encodeURIComponent('fz/num');
      case 'subnets':
        return 'fz-net';
      case 'reservations':
        return '10.99.0.10';
      case 'users':
        return 'fz-user';
      case 'leases':
        return '10.99.0.20';
      default:
        throw new Error(`no fixture for {${name}} in ${specPath}`);
    }
  }

  /** A URL for the operation: fixture path values unless `override` replaces one parameter. */
  const urlOf = (o: Op, query = '', override?: { name: string; value: string }): string => {
    const path = o.specPath.replace(/\{([^}]+)\}/g, (_m, n: string) => (override?.name === n ? override.value : goodPathValue(o.specPath, n)));
    return query ? `${path}?${query}` : path;
  };

  // Creatable bodies (the generator's are schema-valid but rarely make sense, e.g. a cidr of "fz 1a2b").
  const made: Partial<Record<string, () => unknown>> = {
    createMachine: () => ({ name: `fz-${rng.hex(8)}`, macs: [`52:54:01:${rng.hex(2)}:${rng.hex(2)}:${rng.hex(2)}`], profiles: ['fz-prof'] }),
    createBootEnv: () => ({ name: `fz-${rng.hex(8)}`, os: { name: 'fz' }, kernel: 'vmlinuz', templates: [{ name: 't', path: 'machines/{{machine.uuid}}/t', templateId: 'fz-tpl' }] }),
    createTemplate: () => ({ id: `fz-${rng.hex(8)}`, contents: 'x {{machine.name}}' }),
    createProfile: () => ({ name: `fz-${rng.hex(8)}`, params: { 'fz/num': rng.int(0, 9) } }),
    createParam: () => ({ name: `fz/${rng.hex(8)}`, schema: { type: 'string' } }),
    createSubnet: () => ({ name: `fz-${rng.hex(8)}`, cidr: `10.${rng.int(100, 250)}.${rng.int(0, 255)}.0/24` }),
    createReservation: () => ({ address: `10.99.0.${rng.int(30, 250)}`, mac: `52:54:02:${rng.hex(2)}:${rng.hex(2)}:${rng.hex(2)}` }),
    replaceMachine: () => ({ name: 'fz-m', macs: ['52:54:00:fa:00:01'], profiles: ['fz-prof'], params: { 'fz/num': rng.int(0, 9) }, description: `fz ${rng.hex(4)}` }),
    replaceBootEnv: () => ({ name: 'fz-env', os: { name: 'fz' }, kernel: 'vmlinuz', templates: [{ name: 't', path: 'machines/{{machine.uuid}}/t', templateId: 'fz-tpl' }], description: `fz ${rng.hex(4)}` }),
    replaceParam: () => ({ name: 'fz/num', schema: { type: 'integer' }, description: `fz ${rng.hex(4)}` }),
    replaceSubnet: () => ({ name: 'fz-net', cidr: '10.99.0.0/24', description: `fz ${rng.hex(4)}` }),
    replaceTemplate: () => ({ id: 'fz-tpl', contents: 'hello {{machine.name}}\n', description: `fz ${rng.hex(4)}` }),
    replaceProfile: () => ({ name: 'fz-prof', params: { 'fz/num': rng.int(0, 9) }, description: `fz ${rng.hex(4)}` }),
    replaceReservation: () => ({ address: '10.99.0.10', mac: '52:54:00:fa:00:02', description: `fz ${rng.hex(4)}` }),
    replaceUser: () => ({ name: 'fz-user', role: 'operator', description: `fz ${rng.hex(4)}` }),
    createUser: () => ({ name: `fz-${rng.hex(8)}`, role: 'readonly', password: `fz-password-${rng.hex(4)}` }),
    setMachineParam: () => rng.int(0, 100),
    setProfileParam: () => rng.int(0, 100),
    setMachineBootEnv: () => ({ bootenv: rng.pick(['local', 'ignore', 'fz-env']) }),
  };

  /** `n` entries of `list` picked by the seed (kept in order). */
  const sample = <T>(list: readonly T[], n: number): T[] => {
    const keep = new Set<number>();
    while (keep.size < Math.min(n, list.length)) keep.add(rng.int(0, list.length - 1));
    return list.filter((_v, i) => keep.has(i));
  };
  const jsonTypeOf = (o: Op): string | undefined => {
    const types = Object.keys(o.op.requestBody?.content ?? {});
    return types.find((x) => x === 'application/json') ?? types.find((x) => x.endsWith('json'));
  };
  const bodySchema = (o: Op, type: string): Schema | undefined => o.op.requestBody?.content[type]?.schema;

  // ---- generate every case, operation by operation ------------------------------------------------
  const cases: FuzzCase[] = [];
  const add = (o: Op, label: string, url: string, expect: Expect, payload?: string | Buffer, contentType?: string): void => {
    cases.push({ label: `${o.method} ${o.specPath}: ${label}`, method: o.method, specPath: o.specPath, url, headers: contentType ? { 'content-type': contentType } : {}, payload, expect });
  };
  const ANY: Expect = { kind: 'any' };
  const REJECT: Expect = { kind: 'reject' };

  for (const o of operations(doc)) {
    // An endless SSE stream: checked once over the socket below.
    if (o.method === 'GET' && o.specPath === '/api/v1/events') continue;
    const params = o.op.parameters ?? [];
    const jtype = jsonTypeOf(o);
    const octet = o.op.requestBody?.content['application/octet-stream'] !== undefined;
    // Where any name is a new object (a param value, a file, an ISO), a "bad" name may be created and later found.
    const creates = /\/params\/\{name\}$|\/files\/\{path\}$|\/isos\/\{name\}$/.test(o.specPath);

    // valid requests (schema-generated, or hand-made creatable ones)
    for (let r = 0; r < ROUNDS; r++) {
      const q = params.filter((p) => p.in === 'query' && p.schema?.type !== 'object' && (p.required || rng.chance(0.5)));
      const query = q.map((p) => `${p.name}=${encodeURIComponent(String(p.name === 'path' ? rng.pick(FILE_PATHS) : genValue(doc, p.schema, rng, 0, p.name)))}`).join('&');
      if (octet) {
        add(o, 'valid octet body', urlOf(o, query), ANY, Buffer.from(`fz file ${rng.hex(16)}\n`), 'application/octet-stream');
      } else if (jtype) {
        const hand = made[o.op.operationId];
        const body = hand && rng.chance(0.6) ? hand() : genValue(doc, bodySchema(o, jtype), rng);
        add(o, 'valid body', urlOf(o, query), ANY, JSON.stringify(body), jtype);
      } else {
        add(o, 'valid', urlOf(o, query), ANY);
      }
    }

    // bad path parameters
    for (const p of params.filter((x) => x.in === 'path')) {
      for (const bad of BAD_PATH_VALUES) {
        const payload = octet ? Buffer.from('x') : jtype ? JSON.stringify(made[o.op.operationId]?.() ?? genValue(doc, bodySchema(o, jtype), rng)) : undefined;
        add(o, `path {${p.name}} ${bad.label}`, urlOf(o, '', { name: p.name, value: bad.value }), creates && !/traversal|NUL|long \(5000/.test(bad.label) ? ANY : REJECT, payload, octet ? 'application/octet-stream' : jtype);
      }
    }

    // bad and odd query parameters
    for (const bq of badQueries(params)) add(o, `query ${bq.query}`, urlOf(o, bq.query + (bq.field !== 'path' && params.some((p) => p.name === 'path' && p.required) ? '&path=t' : '')), { kind: 'reject', field: bq.field });
    if (params.some((p) => p.in === 'query')) for (const q of ODD_QUERIES) add(o, `query ${q}`, urlOf(o, q), ANY);
    if (params.some((p) => p.in === 'query' && p.name === 'path')) for (const f of FILE_PATHS) add(o, `query path=${f.slice(0, 40)}`, urlOf(o, `path=${encodeURIComponent(f)}`), ANY);
    for (const p of params.filter((x) => x.in === 'query' && x.required)) add(o, `query ${p.name} missing`, urlOf(o), { kind: 'reject', field: p.name });

    if (!o.op.requestBody) {
      // a body where none belongs is ignored or refused, never a crash
      add(o, 'unexpected body', urlOf(o), ANY, '{"fz": 1}', 'application/json');
      continue;
    }
    if (octet) {
      for (const ct of ['application/json', 'text/plain']) add(o, `content type ${ct}`, urlOf(o), { kind: 'reject', status: [415] }, '{"a":1}', ct);
      add(o, 'no content type', urlOf(o), REJECT, 'raw');
      continue;
    }
    const types = Object.keys(o.op.requestBody.content);
    const schema = resolve(doc, bodySchema(o, jtype!));
    const base = (made[o.op.operationId]?.() ?? genValue(doc, bodySchema(o, jtype!), rng)) as unknown;
    const baseObj = typeof base === 'object' && base !== null && !Array.isArray(base) ? (base as Record<string, unknown>) : undefined;
    const props = (schema.properties as Record<string, Schema> | undefined) ?? {};

    // a wrong type for each field, each required field missing, an unknown field
    if (schema.type === 'object' && baseObj) {
      for (const [field, ps] of Object.entries(props)) {
        if (ps.readOnly === true) continue;
        for (const wrong of wrongValues(ajv, doc, ps).slice(0, 3)) {
          add(o, `field ${field} = ${JSON.stringify(wrong)}`, urlOf(o), { kind: 'reject', field }, JSON.stringify({ ...baseObj, [field]: wrong }), jtype);
        }
      }
      for (const field of (schema.required as string[] | undefined) ?? []) {
        const { [field]: _gone, ...rest } = baseObj;
        add(o, `required ${field} missing`, urlOf(o), { kind: 'reject', field }, JSON.stringify(rest), jtype);
      }
      add(o, 'unknown field', urlOf(o), schema.additionalProperties === false ? { kind: 'reject', field: 'fzExtra' } : ANY, JSON.stringify({ ...baseObj, fzExtra: 1 }), jtype);
    }
    // a body of the wrong shape altogether
    const validTop = ajv.compile(rewriteRefs(bodySchema(o, jtype!) ?? {}));
    for (const top of [[], 'text', 7, false, null]) {
      // `null` is no body at all, which an optional body allows.
      if (top === null && !o.op.requestBody.required) continue;
      if (!validTop(top)) add(o, `body ${JSON.stringify(top)}`, urlOf(o), REJECT, JSON.stringify(top), jtype);
    }
    // huge bodies: over the limit (1 MiB), and deep nesting under it
    // (megabyte bodies cost time to build and parse: a seeded share of operations gets each)
    if (rng.chance(HEAVY_SHARE)) add(o, 'body over the limit', urlOf(o), { kind: 'reject', status: [413] }, JSON.stringify({ ...baseObj, description: 'x'.repeat(1_100_000) }), jtype);
    if (rng.chance(HEAVY_SHARE)) add(o, 'deeply nested array', urlOf(o), ANY, deepArray(rng.int(10_000, 200_000)), jtype);
    if (rng.chance(HEAVY_SHARE)) add(o, 'deeply nested object', urlOf(o), ANY, deepObject(rng.int(10_000, 150_000)), jtype);
    // malformed JSON: refused, except what some parsers take (a BOM, a lone surrogate escape, 1e999999)
    for (const bad of sample(BAD_JSON, 8)) {
      const lenient = bad.startsWith('\ufeff') || bad.includes('\\ud800') || bad === '1e999999';
      add(o, `bad JSON ${JSON.stringify(bad.slice(0, 30))}`, urlOf(o), lenient ? ANY : { kind: 'reject', status: [400, 415] }, bad, jtype);
    }
    // content types the operation does not take
    for (const ct of sample(BAD_CONTENT_TYPES.filter((c) => !types.includes(c.split(';')[0]!)), 6)) {
      add(o, `content type ${ct}`, urlOf(o), { kind: 'reject', status: [400, 415] }, JSON.stringify(base), ct);
    }
    add(o, 'no content type', urlOf(o), REJECT, JSON.stringify(base));
    add(o, 'charset latin1', urlOf(o), ANY, JSON.stringify(base), `${jtype}; charset=latin1`);
    add(o, 'empty body', urlOf(o), o.op.requestBody.required ? { kind: 'reject', status: [400, 415] } : ANY, '', jtype);
    // patch documents
    if (types.includes('application/json-patch+json')) {
      for (const p of BAD_JSON_PATCHES) add(o, `JSON patch ${JSON.stringify(p)}`, urlOf(o), REJECT, JSON.stringify(p), 'application/json-patch+json');
      for (const p of ODD_JSON_PATCHES) add(o, `JSON patch ${JSON.stringify(p)}`, urlOf(o), ANY, JSON.stringify(p), 'application/json-patch+json');
      add(o, 'JSON patch of 5000 ops', urlOf(o), ANY, JSON.stringify(Array.from({ length: 5000 }, (_v, i) => ({ op: 'test', path: '', value: i }))), 'application/json-patch+json');
    }
    if (types.includes('application/merge-patch+json')) {
      for (const p of BAD_MERGE_PATCHES) add(o, `merge patch ${JSON.stringify(p)}`, urlOf(o), REJECT, JSON.stringify(p), 'application/merge-patch+json');
      for (const p of ODD_MERGE_PATCHES) add(o, `merge patch ${JSON.stringify(p)}`, urlOf(o), ANY, JSON.stringify(p), 'application/merge-patch+json');
    }
  }

  // ---- run -----------------------------------------------------------------------------------------
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());

  const overWire = (c: FuzzCase, url: string): Promise<Answer> =>
    new Promise((resolveP, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: c.method, path: url, agent, headers: { ...c.headers, ...(c.payload !== undefined ? { 'content-length': String(Buffer.byteLength(c.payload)) } : {}), authorization: authOf(c) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolveP({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(c.payload);
    });

  // POST /tokens takes the password only (a token may not mint tokens); every other call sends the token.
  const authOf = (c: FuzzCase): string => (c.specPath === '/api/v1/tokens' ? basic('admin', PASSWORDS.admin) : `Bearer ${adminToken}`);
  const inProcess = async (c: FuzzCase, url: string): Promise<Answer> => {
    const res = await app.inject({ method: c.method as 'GET', url, headers: { ...c.headers, authorization: authOf(c) }, payload: c.payload });
    return { status: res.statusCode, contentType: res.headers['content-type'] as string | undefined, text: res.body };
  };

  const walk = (dir: string, out: string[] = []): string[] => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, out);
      else out.push(`${p}:${statSync(p).size}`);
    }
    return out;
  };
  /** Everything a request could change: every collection, the prefs, the files under the data dir. */
  const storeState = async (): Promise<string> => {
    const all = { limit: 100000 };
    const lists = await Promise.all([s.machines.list(all), s.bootenvs.list(all), s.templates.list(all), s.profiles.list(all), s.params.list(all), s.subnets.list(all), s.reservations.list(all), s.users.list(all), s.leases.list(all)]);
    return JSON.stringify([lists.map((l) => l.items), await s.prefs.getPrefs()]);
  };
  const fileState = (): string => walk(dataDir).sort().join('\n');
  const snapshot = async (): Promise<string> => `${await storeState()}\n${fileState()}`;

  const counts = new Map<number, number>();
  /** Operations that answered 2xx at least once (the valid cases do reach the handlers). */
  const succeeded = new Set<string>();
  const wireCounts = new Map<number, number>();
  const problems: string[] = [];
  const problem = (c: FuzzCase, what: string): void => {
    if (problems.length < 500) problems.push(`${c.label} → ${what}`);
  };
  let sent = 0;
  let dirty = true;
  let current = '';
  let currentFiles = '';
  for (const c of cases) {
    if (dirty) {
      await ensureFixtures();
      current = await snapshot();
      currentFiles = fileState();
      dirty = false;
    }
    // The URL is built now: a recreated fixture machine has a new uuid.
    const url = c.url.replace(/__MACHINE__/g, fx.machine);
    const wire = rng.chance(WIRE_SHARE);
    let ans: Answer;
    try {
      ans = wire ? await overWire(c, url) : await inProcess(c, url);
      // A valid POST /tokens/rotate-key (or the like) before this case ended every token: mint a new one, once.
      if (ans.status === 401 && c.specPath !== '/api/v1/tokens') {
        adminToken = await mint();
        ans = wire ? await overWire(c, url) : await inProcess(c, url);
      }
    } catch (err) {
      problem(c, `request failed: ${String(err)}`);
      dirty = true;
      continue;
    }
    sent++;
    (wire ? wireCounts : counts).set(ans.status, ((wire ? wireCounts : counts).get(ans.status) ?? 0) + 1);
    if (ans.status < 300) succeeded.add(`${c.method} ${c.specPath}`);
    let body: unknown = ans.text;
    try {
      body = ans.text === '' ? undefined : JSON.parse(ans.text);
    } catch {
      // not JSON: the checker reports it when the spec says JSON
    }
    if (ans.status === 500) problem(c, `500 ${ans.text.slice(0, 300)}`);
    for (const p of checker.check(c.method, url, ans.status, ans.contentType, body)) problem(c, p);
    if (ans.status >= 400) {
      const env = body as { code?: string; fieldErrors?: Array<{ field: string; message: string }>; message?: string };
      if (c.expect.kind === 'reject' && c.expect.field && (ans.status === 400 || ans.status === 422)) {
        const f = c.expect.field;
        const named = (env.fieldErrors ?? []).some((e) => e.field.replace(/^\//, '').split('/')[0] === f || e.field === f) || (env.message ?? '').includes(f);
        if (!named) problem(c, `${ans.status} does not name field ${f}: ${ans.text.slice(0, 300)}`);
      }
      // A refused write changes nothing. Only the files and ISO routes write under the data dir; other
      // refusals are checked against the store. (GETs write nothing, refused or not.)
      const onDisk = /\/(files|isos)\b/.test(c.specPath);
      const after = c.method === 'GET' ? current : onDisk ? await snapshot() : `${await storeState()}\n${currentFiles}`;
      if (after !== current) {
        problem(c, `refused with ${ans.status} but changed stored state`);
        current = after;
        currentFiles = fileState();
      }
    } else {
      if (c.expect.kind === 'reject') problem(c, `accepted with ${ans.status}: ${ans.text.slice(0, 200)}`);
      if (c.method !== 'GET') dirty = true;
    }
    if (c.expect.kind === 'reject' && c.expect.status && ans.status >= 400 && !c.expect.status.includes(ans.status)) problem(c, `expected ${c.expect.status.join('/')}, got ${ans.status}`);
  }

  // ---- raw socket abuse on the listening server -----------------------------------------------------
  const raw = (text: string | Buffer, endAfter = true): Promise<string> =>
    new Promise((resolveP) => {
      const sock = connect(port, '127.0.0.1');
      let got = '';
      sock.on('data', (d) => (got += d.toString()));
      sock.on('error', () => resolveP(got));
      sock.on('close', () => resolveP(got));
      sock.write(text);
      if (endAfter) sock.end();
      else setTimeout(() => sock.destroy(), 200);
    });
  adminToken = await mint();
  const auth = `Authorization: Bearer ${adminToken}\r\n`;
  const rawCases: Array<[string, string | Buffer, boolean]> = [
    ['short body (Content-Length lies)', `POST /api/v1/machines HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`, false],
    ['garbage request line', 'FUZZ \x00\x01\x02 HTTP/9.9\r\n\r\n', true],
    ['huge header', `GET /api/v1/machines HTTP/1.1\r\nHost: x\r\n${auth}X-Fz: ${'a'.repeat(100_000)}\r\n\r\n`, true],
    ['chunked body over the limit', Buffer.concat([Buffer.from(`POST /api/v1/templates HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`), Buffer.from(`100000\r\n${'x'.repeat(0x100000)}\r\n100000\r\n${'x'.repeat(0x100000)}\r\n0\r\n\r\n`)]), true],
    ['conflicting lengths', `POST /api/v1/machines HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, true],
  ];
  for (const [label, text, end] of rawCases) {
    const before = await snapshot();
    const got = await raw(text, end);
    sent++;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0);
    wireCounts.set(status, (wireCounts.get(status) ?? 0) + 1);
    if (status >= 500) problems.push(`raw ${label} → ${got.slice(0, 200)}`);
    if ((await snapshot()) !== before) problems.push(`raw ${label} changed stored state`);
  }
  // The SSE stream with an odd filter: headers arrive, then we hang up.
  const ac = new AbortController();
  const sse = await fetch(`http://127.0.0.1:${port}/api/v1/events?type=${encodeURIComponent('ünï{{x}}')}`, { headers: { authorization: `Bearer ${adminToken}` }, signal: ac.signal });
  sent++;
  wireCounts.set(sse.status, (wireCounts.get(sse.status) ?? 0) + 1);
  if (sse.status === 200) succeeded.add('GET /api/v1/events');
  ac.abort();
  t.equal(sse.status, 200, 'the event stream opens with any type filter');

  const info = await fetch(`http://127.0.0.1:${port}/api/v1/info`);
  t.equal(info.status, 200, 'the server still answers after the fuzz');

  const fmt = (m: Map<number, number>): string => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ');
  const allOps = operations(doc).map((o) => `${o.method} ${o.specPath}`);
  t.comment(`${sent} requests from ${cases.length} generated cases over ${allOps.length} operations; in-process ${fmt(counts)}; over the socket ${fmt(wireCounts)}`);
  t.comment(`operations with a 2xx answer: ${succeeded.size}/${allOps.length}; never 2xx: ${allOps.filter((o) => !succeeded.has(o)).join(', ') || 'none'}`);
  t.same(problems, [], `no 500, only documented statuses, envelopes name fields, refused requests change nothing (FUZZ_SEED=${seed})`);
  t.equal(counts.get(500) ?? 0, 0, 'no 500 in process');
});
