/**
 * Bearer tokens: `<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`, signed with a key kept in
 * <data-dir>/token.key (0600, created on first start). Claims say who (`sub`), what kind (`scope`), until
 * when (`exp`, unix seconds) and the revocation generation (`gen`) the subject had when it was minted.
 * The key is rotatable (TokenKeyring): the file then also holds the previous key and the time until which
 * tokens it signed are still accepted, so machines booting mid-install keep their callbacks working.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Role } from '../model/types.js';

export interface TokenClaims {
  /** User name, or machine uuid. */
  sub: string;
  scope: 'user' | 'machine';
  /** The user's role at minting (the current role is what counts when used); `machine` for machines. */
  role: Role | 'machine';
  exp: number;
  /** User: token generation number; machine: fingerprint of its token secret. */
  gen: string;
}

export async function loadOrCreateTokenKey(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, 'token.key');
  try {
    const key = Buffer.from((await readFile(path, 'utf8')).split('\n')[0]!.trim(), 'base64url');
    if (key.length >= 32) return key;
    throw new Error(`${path} holds fewer than 32 bytes; delete it to create a new key (this revokes all tokens)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  // 'wx' refuses to overwrite a key another process wrote in the meantime.
  try {
    await writeFile(path, key.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateTokenKey(dataDir);
    throw err;
  }
  await chmod(path, 0o600);
  return key;
}

const sign = (key: Buffer, payload: string): Buffer => createHmac('sha256', key).update(payload).digest();

export function signToken(key: Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${sign(key, payload).toString('base64url')}`;
}

/** The claims of a well-formed, correctly signed, unexpired token; undefined otherwise. */
export function verifyToken(key: Buffer, token: string, now = Date.now()): TokenClaims | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = sign(key, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return undefined;
  }
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || typeof claims.gen !== 'string') return undefined;
  if (claims.scope !== 'user' && claims.scope !== 'machine') return undefined;
  if (claims.exp * 1000 <= now) return undefined;
  return claims;
}

/** A signing key that replaced another: the previous one still verifies until `until` (unix seconds). */
interface PreviousKey {
  key: Buffer;
  until: number;
}

/**
 * The signing keys of one data dir. File format (<data-dir>/token.key, 0600): the current key on the first
 * line (all a key file had before rotation existed), then one `previous <key> <until>` line per earlier key
 * still inside its grace period (a second rotation does not cut the first one's grace short).
 */
export class TokenKeyring {
  private rotating: Promise<unknown> = Promise.resolve();

  constructor(
    private current: Buffer,
    private previous: PreviousKey[],
    /** Where rotations are written (absent: in memory only, for tests). */
    private readonly path: string | undefined,
    /** Seconds the previous key stays valid after a rotation when the caller names none. */
    readonly defaultGrace: number,
  ) {}

  sign(claims: TokenClaims): string {
    return signToken(this.current, claims);
  }

  verify(token: string, now = Date.now()): TokenClaims | undefined {
    const claims = verifyToken(this.current, token, now);
    if (claims) return claims;
    for (const p of this.previous) {
      if (p.until * 1000 <= now) continue;
      const old = verifyToken(p.key, token, now);
      if (old) return old;
    }
    return undefined;
  }

  /**
   * A new current key; the current one verifies for `graceSeconds` more (0: revokes every token at once).
   * Written to a temporary 0600 file renamed over the key file, so a crash leaves either key file whole.
   */
  rotate(graceSeconds = this.defaultGrace, now = Date.now()): Promise<{ rotatedAt: string; previousKeyValidUntil: string }> {
    const run = this.rotating.then(async () => {
      const next = randomBytes(32);
      const until = Math.floor(now / 1000) + graceSeconds;
      const previous = [{ key: this.current, until }, ...this.previous.filter((p) => p.until * 1000 > now)];
      if (this.path) {
        const tmp = `${this.path}.new`;
        // A leftover from a crash may carry another mode; writeFile keeps an existing file's mode.
        await rm(tmp, { force: true });
        const lines = [next.toString('base64url'), ...previous.map((p) => `previous ${p.key.toString('base64url')} ${p.until}`)];
        await writeFile(tmp, lines.join('\n') + '\n', { mode: 0o600 });
        await chmod(tmp, 0o600);
        await rename(tmp, this.path);
      }
      this.previous = previous;
      this.current = next;
      return { rotatedAt: new Date(now).toISOString(), previousKeyValidUntil: new Date(until * 1000).toISOString() };
    });
    this.rotating = run.catch(() => undefined);
    return run;
  }
}

/** The data dir's keyring: token.key as loadOrCreateTokenKey leaves it, plus a previous key if rotated. */
export async function loadTokenKeyring(dataDir: string, defaultGrace: number): Promise<TokenKeyring> {
  const path = join(dataDir, 'token.key');
  const current = await loadOrCreateTokenKey(dataDir);
  const lines = (await readFile(path, 'utf8')).split('\n').map((l) => l.trim());
  const previous: PreviousKey[] = [];
  for (const m of lines.map((l) => /^previous ([A-Za-z0-9_-]+) (\d+)$/.exec(l))) {
    if (m) previous.push({ key: Buffer.from(m[1]!, 'base64url'), until: Number(m[2]) });
  }
  return new TokenKeyring(current, previous, path, defaultGrace);
}

/** Short fingerprint of a machine's token secret; changes when the secret is rotated. */
export const secretFingerprint = (secret: string): string => createHmac('sha256', 'farrier-machine-gen').update(secret).digest('base64url').slice(0, 16);

/** Constant-time string equality. */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
