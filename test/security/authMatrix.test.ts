/**
 * The auth matrix: every operation in openapi.yaml × every kind of credential, against a whole daemon over
 * real HTTP. What each credential may do comes from the spec itself — `security: []` (public) and each
 * operation's `x-farrier-access` ({roles, machine: own}) — so the spec and the server cannot drift apart.
 * Each allowed call is a fresh well-formed request (its objects created just before), so it must succeed.
 */
import t from 'tap';
import { HTTP_METHODS, loadSpec } from '../../src/api/spec.js';
import type { Machine, User } from '../../src/model/types.js';
import type { Stored } from '../../src/store/store.js';
import { repoRoot } from '../api/harness.js';
import { ADMIN_PASSWORD, type CallOptions, type SecurityDaemon, basic, startSecurityDaemon } from './helpers.js';

interface Access {
  roles: string[];
  machine?: 'own';
}

interface Operation {
  id: string;
  method: string;
  path: string;
  /** undefined: public. */
  access: Access | undefined;
  /** The spec allows only Basic (POST /tokens). */
  basicOnly: boolean;
}

interface WellFormed extends CallOptions {
  url: string;
  /** Statuses a permitted caller may get: 2xx, or a documented 4xx this request is meant to hit. */
  ok: number[];
}

type Credential =
  | 'none'
  | 'wrong password'
  | 'expired user token'
  | 'expired machine token'
  | 'revoked user token'
  | 'revoked machine token'
  | 'other machine token'
  | 'own machine token'
  | 'readonly'
  | 'operator'
  | 'admin';

const CREDENTIALS: Credential[] = [
  'none', 'wrong password', 'expired user token', 'expired machine token', 'revoked user token', 'revoked machine token',
  'other machine token', 'own machine token', 'readonly', 'operator', 'admin',
];

function operations(): Operation[] {
  const doc = loadSpec(repoRoot).doc;
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const m of HTTP_METHODS) {
      const op = ops[m] as unknown as (Record<string, unknown> & { operationId: string; security?: Record<string, unknown>[] }) | undefined;
      if (!op) continue;
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      const access = op['x-farrier-access'] as Access | undefined;
      out.push({
        id: op.operationId,
        method: m.toUpperCase(),
        path,
        access: isPublic ? undefined : access,
        basicOnly: Array.isArray(op.security) && op.security.length > 0 && op.security.every((s) => Object.keys(s).join() === 'basicAuth'),
      });
    }
  }
  return out;
}

/** What `cred` must get for `op`: a status or 'ok' (one of the well-formed request's statuses). */
function expected(op: Operation, cred: Credential): number | 'ok' {
  if (!op.access) return 'ok';
  switch (cred) {
    case 'none':
    case 'wrong password':
    case 'expired user token':
    case 'expired machine token':
    case 'revoked user token':
    case 'revoked machine token':
      return 401;
    case 'other machine token':
      return 403;
    case 'own machine token':
      return op.access.machine === 'own' ? 'ok' : 403;
    default:
      return op.access.roles.includes(cred) ? 'ok' : 403;
  }
}

const OCTET = 'application/octet-stream';
const MERGE = 'application/merge-patch+json';

/** Fresh objects and a well-formed request per operation; machine-own operations act on machine `own`. */
class Recipes {
  private n = 0;
  constructor(
    private readonly d: SecurityDaemon,
    private readonly own: { uuid: string; mac: string },
  ) {}

  private next(): number {
    return ++this.n;
  }

  private async admin(method: string, url: string, opts: CallOptions = {}): Promise<unknown> {
    const res = await this.d.send(method, url, { auth: this.d.adminAuth, ...opts });
    if (res.status >= 300) throw new Error(`setup ${method} ${url} → ${res.status} ${res.text}`);
    return res.body;
  }

  /** A create body and the key its object gets, per simple collection. */
  private fresh(coll: string): { body: Record<string, unknown>; key?: string } {
    const i = this.next();
    switch (coll) {
      case 'machines': return { body: { name: `mx-${i}` } };
      case 'bootenvs': return { body: { name: `bx-${i}` }, key: `bx-${i}` };
      case 'templates': return { body: { id: `tx-${i}`, contents: 'x' }, key: `tx-${i}` };
      case 'profiles': return { body: { name: `px-${i}` }, key: `px-${i}` };
      case 'params': return { body: { name: `qx-${i}`, schema: { type: 'string' } }, key: `qx-${i}` };
      case 'subnets': return { body: { name: `sx-${i}`, cidr: `10.${Math.floor(i / 256)}.${i % 256}.0/24` }, key: `sx-${i}` };
      case 'reservations': {
        const address = `192.168.${Math.floor(i / 250)}.${(i % 250) + 1}`;
        return { body: { address, mac: `52:54:00:aa:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }, key: address };
      }
      case 'users': return { body: { name: `ux-${i}`, role: 'readonly', password: 'a-password-1' }, key: `ux-${i}` };
      default: throw new Error(`no fresh ${coll}`);
    }
  }

  private async created(coll: string): Promise<{ key: string; body: Record<string, unknown> }> {
    const f = this.fresh(coll);
    const out = (await this.admin('POST', `/api/v1/${coll}`, { body: f.body })) as Record<string, unknown>;
    return { key: f.key ?? String(out.uuid), body: f.body };
  }

  private async lease(): Promise<string> {
    const i = this.next();
    const address = `172.16.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    await this.d.daemon.services.store.putLease({ address, mac: `52:54:00:bb:00:${(i & 255).toString(16).padStart(2, '0')}`, state: 'bound', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), subnet: 'none', hostname: null, clientId: null, updatedAt: new Date().toISOString() });
    return address;
  }

  async build(op: Operation): Promise<WellFormed | undefined> {
    const own = `/api/v1/machines/${this.own.uuid}`;
    const crud = /^(list|create|get|replace|patch|delete)(Machine|BootEnv|Template|Profile|Param|Subnet|Reservation|User)s?$/.exec(op.id);
    if (crud) {
      const coll = { Machine: 'machines', BootEnv: 'bootenvs', Template: 'templates', Profile: 'profiles', Param: 'params', Subnet: 'subnets', Reservation: 'reservations', User: 'users' }[crud[2]!]!;
      switch (crud[1]) {
        case 'list': return { url: `/api/v1/${coll}`, ok: [200] };
        case 'create': return { url: `/api/v1/${coll}`, body: this.fresh(coll).body, ok: [201] };
        case 'get': return coll === 'machines' ? { url: own, ok: [200] } : { url: `/api/v1/${coll}/${(await this.created(coll)).key}`, ok: [200] };
        case 'replace': {
          const c = await this.created(coll);
          return { url: `/api/v1/${coll}/${c.key}`, body: { ...c.body, password: undefined, description: 'replaced' }, ok: [200] };
        }
        case 'patch': return { url: `/api/v1/${coll}/${(await this.created(coll)).key}`, body: { description: 'patched' }, contentType: MERGE, ok: [200] };
        case 'delete': return { url: `/api/v1/${coll}/${(await this.created(coll)).key}`, ok: [200, 204] };
      }
    }
    const i = this.next();
    switch (op.id) {
      case 'listLeases': return { url: '/api/v1/leases', ok: [200] };
      case 'getLease': return { url: `/api/v1/leases/${await this.lease()}`, ok: [200] };
      case 'deleteLease': return { url: `/api/v1/leases/${await this.lease()}`, ok: [200, 204] };
      case 'getMachineParams': return { url: `${own}/params`, ok: [200] };
      case 'replaceMachineParams': return { url: `${own}/params`, body: { stage: 'replaced' }, ok: [200] };
      case 'patchMachineParams': return { url: `${own}/params`, body: { stage: 'patched' }, contentType: MERGE, ok: [200] };
      case 'getMachineParam':
        await this.admin('PUT', `${own}/params/k${i}`, { body: 'v' });
        return { url: `${own}/params/k${i}`, ok: [200] };
      case 'setMachineParam': return { url: `${own}/params/k${i}`, body: 'v', ok: [200] };
      case 'deleteMachineParam':
        await this.admin('PUT', `${own}/params/k${i}`, { body: 'v' });
        return { url: `${own}/params/k${i}`, ok: [200, 204] };
      case 'getProfileParams': return { url: `/api/v1/profiles/${(await this.created('profiles')).key}/params`, ok: [200] };
      case 'replaceProfileParams': return { url: `/api/v1/profiles/${(await this.created('profiles')).key}/params`, body: { a: 1 }, ok: [200] };
      case 'patchProfileParams': return { url: `/api/v1/profiles/${(await this.created('profiles')).key}/params`, body: { a: 1 }, contentType: MERGE, ok: [200] };
      case 'getProfileParam': {
        const p = (await this.created('profiles')).key;
        await this.admin('PUT', `/api/v1/profiles/${p}/params/a`, { body: 1 });
        return { url: `/api/v1/profiles/${p}/params/a`, ok: [200] };
      }
      case 'setProfileParam': return { url: `/api/v1/profiles/${(await this.created('profiles')).key}/params/a`, body: 1, ok: [200] };
      case 'deleteProfileParam': {
        const p = (await this.created('profiles')).key;
        await this.admin('PUT', `/api/v1/profiles/${p}/params/a`, { body: 1 });
        return { url: `/api/v1/profiles/${p}/params/a`, ok: [200, 204] };
      }
      case 'setMachineBootEnv': return { url: `${own}/bootenv`, body: { bootenv: 'local' }, ok: [200] };
      case 'renderMachineFile': return { url: `${own}/render?path=${this.own.mac.replace(/:/g, '-')}.ipxe`, ok: [200] };
      case 'explainMachineBoot': return { url: `${own}/explain`, ok: [200] };
      case 'getMachineTimeline': return { url: `${own}/timeline`, ok: [200] };
      case 'mintMachineToken': return { url: `${own}/token`, body: { ttl: 60 }, ok: [201] };
      case 'rotateMachineTokenSecret': return { url: `/api/v1/machines/${(await this.created('machines')).key}/rotate-token-secret`, ok: [200] };
      case 'revokeUserTokens': return { url: `/api/v1/users/${(await this.created('users')).key}/revoke-tokens`, ok: [200] };
      case 'getPrefs': return { url: '/api/v1/prefs', ok: [200] };
      case 'setPrefs': return { url: '/api/v1/prefs', body: { defaultBootEnv: 'local', unknownBootEnv: 'ignore' }, ok: [200] };
      case 'patchPrefs': return { url: '/api/v1/prefs', body: { defaultBootEnv: 'local' }, contentType: MERGE, ok: [200] };
      // A long grace: the tokens this matrix minted before keep working after the rotation.
      case 'rotateTokenKey': return { url: '/api/v1/tokens/rotate-key', body: { grace: 3600 }, ok: [200] };
      case 'createToken': return { url: '/api/v1/tokens', body: { ttl: 60 }, ok: [201] };
      case 'listFiles': return { url: '/api/v1/files', ok: [200] };
      case 'putFile': return { url: `/api/v1/files/sec/f${i}.txt`, payload: 'data', contentType: OCTET, ok: [201] };
      case 'getFile':
        await this.admin('PUT', `/api/v1/files/sec/f${i}.txt`, { payload: 'data', contentType: OCTET });
        return { url: `/api/v1/files/sec/f${i}.txt`, ok: [200] };
      case 'deleteFile':
        await this.admin('PUT', `/api/v1/files/sec/f${i}.txt`, { payload: 'data', contentType: OCTET });
        return { url: `/api/v1/files/sec/f${i}.txt`, ok: [200, 204] };
      case 'listIsos': return { url: '/api/v1/isos', ok: [200] };
      case 'uploadIso': return { url: `/api/v1/isos/x${i}.iso`, payload: 'iso image bytes', contentType: OCTET, ok: [201] };
      case 'deleteIso':
        await this.admin('POST', `/api/v1/isos/x${i}.iso`, { payload: 'iso image bytes', contentType: OCTET });
        return { url: `/api/v1/isos/x${i}.iso`, ok: [200, 204] };
      case 'getInfo': return { url: '/api/v1/info', ok: [200] };
      case 'streamEvents': return { url: '/api/v1/events', ok: [200] };
      case 'postEvent': return { url: '/api/v1/events', body: { type: 'machines', action: 'matrix', key: this.own.uuid }, ok: [202] };
    }
    return undefined;
  }
}

t.test('auth matrix: every operation × every credential, expectations from openapi.yaml', async (t) => {
  const d = await startSecurityDaemon(t);
  const { services } = d.daemon;
  const mac = '52:54:00:5e:c0:01';
  const ownM = (await d.send('POST', '/api/v1/machines', { auth: d.adminAuth, body: { name: 'own', macs: [mac] } })).body as Machine;
  const otherM = (await d.send('POST', '/api/v1/machines', { auth: d.adminAuth, body: { name: 'other' } })).body as Machine;
  const mint = async (uuid: string): Promise<string> => {
    const res = await d.send('POST', `/api/v1/machines/${uuid}/token`, { auth: d.adminAuth, body: {} });
    return `Bearer ${(res.body as { token: string }).token}`;
  };
  // The own machine's first token is revoked by rotating its secret; the token used afterwards is minted anew.
  const revokedMachine = await mint(ownM.uuid);
  await d.send('POST', `/api/v1/machines/${ownM.uuid}/rotate-token-secret`, { auth: d.adminAuth });
  await d.send('POST', '/api/v1/users', { auth: d.adminAuth, body: { name: 'revokee', role: 'admin', password: 'revokee-pass' } });
  const revokedUser = await d.userBearer('revokee', 'revokee-pass');
  await d.send('POST', '/api/v1/users/revokee/revoke-tokens', { auth: d.adminAuth });
  await d.send('POST', '/api/v1/users', { auth: d.adminAuth, body: { name: 'operator', role: 'operator', password: 'operator-pass' } });
  await d.send('POST', '/api/v1/users', { auth: d.adminAuth, body: { name: 'reader', role: 'readonly', password: 'reader-pass' } });
  const passwords: Record<string, string> = { admin: ADMIN_PASSWORD, operator: 'operator-pass', readonly: 'reader-pass' };
  const names: Record<string, string> = { admin: 'admin', operator: 'operator', readonly: 'reader' };
  const bearers: Record<string, string> = {};
  for (const role of ['admin', 'operator', 'readonly']) bearers[role] = await d.userBearer(names[role]!, passwords[role]!);
  const adminUser = (await services.users.getRaw('admin')) as Stored<User>;
  const ownRaw = await services.machines.resolveRaw(ownM.uuid);
  const creds: Record<Credential, (op: Operation) => string | undefined> = {
    'none': () => undefined,
    'wrong password': () => basic('operator', 'not-the-password'),
    'expired user token': () => `Bearer ${services.tokens.mintUserToken(adminUser, -60).token}`,
    'expired machine token': () => `Bearer ${services.tokens.mintMachineToken(ownRaw, -60).token}`,
    'revoked user token': () => revokedUser,
    'revoked machine token': () => revokedMachine,
    'other machine token': () => undefined,
    'own machine token': () => undefined,
    'readonly': (op) => (op.basicOnly ? basic(names.readonly!, passwords.readonly!) : bearers.readonly),
    'operator': (op) => (op.basicOnly ? basic(names.operator!, passwords.operator!) : bearers.operator),
    'admin': (op) => (op.basicOnly ? basic('admin', ADMIN_PASSWORD) : bearers.admin),
  };
  const ownToken = await mint(ownM.uuid);
  const otherToken = await mint(otherM.uuid);
  creds['own machine token'] = () => ownToken;
  creds['other machine token'] = () => otherToken;

  const recipes = new Recipes(d, { uuid: ownM.uuid, mac });
  const ops = operations();
  t.ok(ops.length >= 80, `${ops.length} operations in the spec`);
  let wrongPasswords = 0;
  for (const op of ops) {
    if (op.access === undefined && op.id !== 'getInfo') t.fail(`${op.method} ${op.path} (${op.id}) has no x-farrier-access and is not public`);
    // Refused calls never reach the handler, so they share one request; each permitted call gets fresh objects.
    const refused = await recipes.build(op);
    if (!refused) {
      t.fail(`${op.id}: the matrix has no well-formed request for it; add one to Recipes`);
      continue;
    }
    for (const cred of CREDENTIALS) {
      const want = expected(op, cred);
      const call = want === 'ok' ? ((await recipes.build(op)) as WellFormed) : refused;
      const res = await d.send(op.method, call.url, { ...call, auth: creds[cred](op) });
      if (want === 'ok') t.ok(call.ok.includes(res.status), `${op.method} ${op.path} as ${cred} → ${call.ok.join('/')} (got ${res.status} ${res.text.slice(0, 160)})`);
      else t.equal(res.status, want, `${op.method} ${op.path} as ${cred} → ${want} (${res.text.slice(0, 160)})`);
      if (want === 401 && op.access) t.match(res.body, { code: 'UNAUTHORIZED' }, 'error envelope');
      if (want === 403) t.match(res.body, { code: 'FORBIDDEN' }, 'error envelope');
      // Stay under the password throttle (10 failures per user and address): a correct login clears it.
      if (cred === 'wrong password' && ++wrongPasswords % 8 === 0) await d.userBearer('operator', 'operator-pass');
    }
  }
});

t.test('POST /tokens takes the password only: a token cannot mint its own successor', async (t) => {
  const d = await startSecurityDaemon(t);
  const bearer = await d.userBearer('admin', ADMIN_PASSWORD);
  const res = await d.send('POST', '/api/v1/tokens', { auth: bearer, body: { ttl: 60 } });
  t.equal(res.status, 401);
  t.match(res.body, { code: 'UNAUTHORIZED', message: /Basic credentials/ });
  t.equal((await d.send('GET', '/api/v1/machines', { auth: bearer })).status, 200, 'the same token still works for everything else');
});

t.test('boot files over HTTP are public by design: the same answer whatever credential is sent', async (t) => {
  const d = await startSecurityDaemon(t, { tftpEnabled: false, dhcpEnabled: false });
  const m = (await d.send('POST', '/api/v1/machines', { auth: d.adminAuth, body: { name: 'bootfile-m', macs: ['52:54:00:5e:d0:01'] } })).body as Machine;
  const other = (await d.send('POST', '/api/v1/machines', { auth: d.adminAuth, body: { name: 'bootfile-o' } })).body as Machine;
  const otherToken = `Bearer ${((await d.send('POST', `/api/v1/machines/${other.uuid}/token`, { auth: d.adminAuth, body: {} })).body as { token: string }).token}`;
  const auths: Record<string, string | undefined> = { none: undefined, 'wrong password': basic('admin', 'wrong'), 'garbage token': 'Bearer x.y', 'other machine token': otherToken, admin: d.adminAuth };
  for (const path of ['/52-54-00-5e-d0-01.ipxe', '/boot.ipxe', '/pxelinux.cfg/01-52-54-00-5e-d0-01', '/grub/grub.cfg']) {
    const answers = new Set<string>();
    for (const [name, auth] of Object.entries(auths)) {
      const res = await fetch(`${d.daemon.url}${path}`, { headers: auth ? { authorization: auth } : {} });
      t.equal(res.status, 200, `${path} with ${name} → 200`);
      answers.add((await res.text()).replace(/\s+$/, ''));
    }
    t.equal(answers.size, 1, `${path}: one and the same file for every credential`);
  }
  t.ok(m.uuid);
  t.notMatch(d.logs.join(''), /Bearer x\.y|Basic [A-Za-z0-9+/=]{8,}/, 'no credential sent to a boot file is logged');
});
