/**
 * Bearer tokens: `<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`, signed with a key kept in
 * <data-dir>/token.key (0600, created on first start). Claims say who (`sub`), what kind (`scope`), until
 * when (`exp`, unix seconds) and the revocation generation (`gen`) the subject had when it was minted.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
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
    const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
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

/** Short fingerprint of a machine's token secret; changes when the secret is rotated. */
export const secretFingerprint = (secret: string): string => createHmac('sha256', 'farrier-machine-gen').update(secret).digest('base64url').slice(0, 16);

/** Constant-time string equality. */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
