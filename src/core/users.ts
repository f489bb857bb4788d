/**
 * API users: name, role, scrypt password hash (never returned, never logged) and a token generation that
 * revokes every token issued to the user when bumped.
 */
import { randomBytes } from 'node:crypto';
import { DUMMY_HASH, hashPassword, verifyPassword } from '../auth/password.js';
import { conflict, notFound } from '../errors.js';
import type { Role, User } from '../model/types.js';
import type { ListQuery, ListResult, Stored } from '../store/store.js';
import { type CoreDeps, clientVersionOf, publishChange, updateObject } from './common.js';
import type { ListSpec } from './list.js';
import { applyPatch } from './patch.js';
import { Problems } from './validate.js';

export const userListSpec: ListSpec = { fields: { name: 'string', role: 'string', description: 'string' } };

export type PublicUser = Omit<Stored<User>, 'passwordHash' | 'tokenGen'>;

export const publicUser = (u: Stored<User>): PublicUser => {
  const { passwordHash: _h, tokenGen: _g, ...rest } = u;
  return rest;
};

const USER_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,252}$/;
const ROLES: Role[] = ['admin', 'operator', 'readonly'];

interface UserInput {
  name: string;
  role: Role;
  password?: string;
  description: string;
}

function normalizeUser(input: Record<string, unknown>, key: string | undefined, passwordRequired: boolean): UserInput {
  const name = typeof input.name === 'string' ? input.name : key;
  const p = new Problems(`user ${JSON.stringify(name ?? '')}`);
  if (!name) p.add('name', 'is required');
  else if (!USER_RE.test(name)) p.add('name', 'must start with a letter or digit and hold only letters, digits, ".", "_", "@", "-"');
  if (key !== undefined && input.name !== undefined && input.name !== key) p.add('name', `must match ${JSON.stringify(key)}`);
  const role = input.role ?? 'readonly';
  if (!ROLES.includes(role as Role)) p.add('role', 'must be admin, operator or readonly');
  if (input.password !== undefined && (typeof input.password !== 'string' || input.password.length < 8)) p.add('password', 'must be at least 8 characters');
  if (passwordRequired && input.password === undefined) p.add('password', 'is required');
  p.throwIfAny();
  return { name: name!, role: role as Role, password: input.password as string | undefined, description: typeof input.description === 'string' ? input.description : '' };
}

export class UserService {
  constructor(private readonly deps: CoreDeps) {}

  async getRaw(name: string): Promise<Stored<User> | undefined> {
    return this.deps.store.get<User>('users', name);
  }

  async get(name: string): Promise<PublicUser> {
    const u = await this.getRaw(name);
    if (!u) throw notFound('user', name);
    return publicUser(u);
  }

  async list(q: ListQuery): Promise<ListResult<PublicUser>> {
    const res = await this.deps.store.list<User>('users', q);
    return { total: res.total, items: res.items.map(publicUser) };
  }

  async create(input: Record<string, unknown>): Promise<PublicUser> {
    const u = normalizeUser(input, undefined, true);
    const saved = await this.deps.store.put<User>('users', u.name, { name: u.name, role: u.role, description: u.description, passwordHash: await hashPassword(u.password!), tokenGen: 0 }, { mode: 'create' });
    this.deps.logger.info({ user: u.name, role: u.role }, 'user created');
    const out = publicUser(saved);
    publishChange(this.deps.bus, 'users', 'create', u.name, out);
    return out;
  }

  private async write(name: string, build: (cur: Stored<User>) => UserInput, clientVersion?: number): Promise<PublicUser> {
    let newHash: { for: string; hash: string } | undefined;
    const { after } = await updateObject<User>(this.deps.store, 'users', name, async (cur) => {
      const u = build(cur);
      if (u.password !== undefined && newHash?.for !== u.password) newHash = { for: u.password, hash: await hashPassword(u.password) };
      if (cur.role === 'admin' && u.role !== 'admin') await this.refuseLastAdmin(name);
      return { name, role: u.role, description: u.description, passwordHash: u.password !== undefined ? newHash!.hash : cur.passwordHash, tokenGen: cur.tokenGen ?? 0 };
    }, clientVersion);
    const out = publicUser(after);
    publishChange(this.deps.bus, 'users', 'update', name, out);
    return out;
  }

  replace(name: string, input: Record<string, unknown>): Promise<PublicUser> {
    const u = normalizeUser(input, name, false);
    return this.write(name, () => u, clientVersionOf(input));
  }

  patch(name: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<PublicUser> {
    return this.write(name, (cur) => normalizeUser(applyPatch(publicUser(cur), body, kind) as Record<string, unknown>, name, false));
  }

  /** Revokes every token issued to the user so far. */
  async revokeTokens(name: string): Promise<PublicUser> {
    const { after } = await updateObject<User>(this.deps.store, 'users', name, (cur) => ({ ...cur, tokenGen: (cur.tokenGen ?? 0) + 1 }));
    this.deps.logger.info({ user: name }, 'user tokens revoked');
    return publicUser(after);
  }

  private async refuseLastAdmin(name: string): Promise<void> {
    const admins = await this.deps.store.list<User>('users', { filters: [{ path: ['role'], value: 'admin' }] });
    if (admins.items.every((a) => a.name === name)) throw conflict(`user ${JSON.stringify(name)} is the last admin; make another user admin first`);
  }

  async delete(name: string): Promise<PublicUser> {
    const u = await this.getRaw(name);
    if (!u) throw notFound('user', name);
    if (u.role === 'admin') await this.refuseLastAdmin(name);
    const gone = await this.deps.store.delete<User>('users', name);
    if (!gone) throw notFound('user', name);
    const out = publicUser(gone);
    publishChange(this.deps.bus, 'users', 'delete', name, out);
    return out;
  }

  /** The user when the password matches; the same work is done for unknown users (no timing oracle). */
  async checkPassword(name: string, password: string): Promise<Stored<User> | undefined> {
    const u = await this.getRaw(name);
    const ok = await verifyPassword(password, u?.passwordHash ?? DUMMY_HASH);
    return u && ok ? u : undefined;
  }

  /**
   * First start: with no users at all, create `admin` with `password` (FARRIER_ADMIN_PASSWORD) or a random
   * one. Returns the generated password so the caller can log it once; undefined when nothing was created.
   */
  async bootstrapAdmin(password: string | undefined): Promise<{ name: string; password: string; generated: boolean } | undefined> {
    const existing = await this.deps.store.list<User>('users', { limit: 1 });
    if (existing.total > 0) return undefined;
    const generated = password === undefined || password === '';
    const pw = generated ? randomBytes(18).toString('base64url') : password;
    try {
      await this.deps.store.put<User>('users', 'admin', { name: 'admin', role: 'admin', description: 'created at first start', passwordHash: await hashPassword(pw), tokenGen: 0 }, { mode: 'create' });
    } catch (err) {
      if (await this.getRaw('admin')) return undefined;
      throw err;
    }
    return { name: 'admin', password: pw, generated };
  }
}
