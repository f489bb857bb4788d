/**
 * Token minting and checking on top of the signed-token format (auth/tokens.ts): user tokens are revoked
 * by bumping the user's token generation, machine tokens by rotating the machine's token secret.
 */
import { FarrierError } from '../errors.js';
import type { Machine, Role, User } from '../model/types.js';
import type { Store, Stored } from '../store/store.js';
import { TokenKeyring, sameString, secretFingerprint, type TokenClaims } from '../auth/tokens.js';

export interface IssuedToken {
  token: string;
  expiresAt: string;
}

/** Who a verified credential belongs to. */
export type Principal =
  /** `via`: how the user proved who they are (a password, or a token minted from one). */
  | { kind: 'user'; name: string; role: Role; via: 'password' | 'token' }
  | { kind: 'machine'; uuid: string };

export class TokenService {
  /** The signing keys; a bare key (tests) becomes an in-memory keyring. */
  readonly keys: TokenKeyring;

  constructor(
    private readonly store: Store,
    key: Buffer | TokenKeyring,
    private readonly ttl: { user: number; machine: number },
  ) {
    this.keys = key instanceof TokenKeyring ? key : new TokenKeyring(key, [], undefined, 3600);
  }

  private issue(claims: Omit<TokenClaims, 'exp'>, ttlSeconds: number): IssuedToken {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    return { token: this.keys.sign({ ...claims, exp }), expiresAt: new Date(exp * 1000).toISOString() };
  }

  mintUserToken(user: Stored<User>, ttlSeconds?: number): IssuedToken {
    return this.issue({ sub: user.name, scope: 'user', role: user.role, gen: String(user.tokenGen ?? 0) }, ttlSeconds ?? this.ttl.user);
  }

  /** A token that may read this machine, set its own bootenv and params, and post its events. */
  mintMachineToken(machine: Pick<Stored<Machine>, 'uuid' | 'tokenSecret'>, ttlSeconds?: number): IssuedToken {
    if (!machine.tokenSecret) throw new FarrierError('INTERNAL', `machine ${machine.uuid} has no token secret`);
    return this.issue({ sub: machine.uuid, scope: 'machine', role: 'machine', gen: secretFingerprint(machine.tokenSecret) }, ttlSeconds ?? this.ttl.machine);
  }

  /** The principal of a valid, unrevoked token; undefined for anything else. */
  async check(token: string): Promise<Principal | undefined> {
    const claims = this.keys.verify(token);
    if (!claims) return undefined;
    if (claims.scope === 'user') {
      const u = await this.store.get<User>('users', claims.sub);
      if (!u || !sameString(String(u.tokenGen ?? 0), claims.gen)) return undefined;
      return { kind: 'user', name: u.name, role: u.role, via: 'token' };
    }
    const m = await this.store.get<Machine>('machines', claims.sub);
    if (!m?.tokenSecret || !sameString(secretFingerprint(m.tokenSecret), claims.gen)) return undefined;
    return { kind: 'machine', uuid: m.uuid };
  }
}
