/**
 * Authentication for /api/v1: `Authorization: Basic` (user + password, throttled per user and client
 * address) or `Authorization: Bearer` (a signed user or machine token). Missing or bad credentials → 401,
 * a credential lacking the right → 403. The Authorization header is never logged (see app.ts redaction).
 * With TLS on, the plain HTTP listener refuses user credentials (403 naming the HTTPS port) so passwords and
 * user tokens are used over HTTPS only; machine tokens still work there for installer callbacks.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../core/services.js';
import type { Principal } from '../core/tokens.js';
import { FarrierError } from '../errors.js';
import { type RouteAccess, decide, needsPassword } from './access.js';
import { PasswordThrottle } from './rateLimit.js';

const unauthorized = (message: string): FarrierError => new FarrierError('UNAUTHORIZED', message);

export interface AuthenticatorOptions {
  /** TLS is on and this is the plain HTTP listener: user credentials are refused, pointed at the HTTPS port. */
  userApiOverHttpsOnly?: { httpsPort: number };
}

export class Authenticator {
  private readonly throttle = new PasswordThrottle();

  constructor(
    private readonly services: Services,
    private readonly opts: AuthenticatorOptions = {},
  ) {}

  /** Refuses a user credential on plain HTTP when the API is served over HTTPS (before any password check). */
  private refusePlainUser(req: FastifyRequest): void {
    const https = this.opts.userApiOverHttpsOnly;
    if (!https || req.protocol === 'https') return;
    throw new FarrierError(
      'FORBIDDEN',
      `this daemon takes user credentials over HTTPS only: use https://<host>:${https.httpsPort}${req.url.split('?')[0]} (plain HTTP serves boot files and machine-token callbacks)`,
    );
  }

  async principalOf(req: FastifyRequest): Promise<Principal> {
    const header = req.headers.authorization;
    if (!header) throw unauthorized('authentication required: send Basic credentials or a Bearer token');
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (space > 0 && scheme === 'bearer') {
      const p = await this.services.tokens.check(value);
      if (!p) throw unauthorized('the bearer token is invalid, expired or revoked');
      if (p.kind === 'user') this.refusePlainUser(req);
      return p;
    }
    if (space > 0 && scheme === 'basic') {
      this.refusePlainUser(req);
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw unauthorized('malformed Basic credentials');
      const name = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const wait = this.throttle.retryAfter(name, req.ip);
      if (wait > 0) throw new FarrierError('TOO_MANY_REQUESTS', `too many failed password attempts for ${JSON.stringify(name)}; retry in ${wait} s`, [], { retryAfter: wait });
      const user = await this.services.users.checkPassword(name, password);
      if (!user) {
        this.throttle.fail(name, req.ip);
        req.log.warn({ user: name }, 'password authentication failed');
        throw unauthorized('wrong user name or password');
      }
      this.throttle.succeed(name, req.ip);
      return { kind: 'user', name: user.name, role: user.role, via: 'password' };
    }
    throw unauthorized('unsupported Authorization scheme: use Basic or Bearer');
  }

  /** Authenticates and authorizes one request; machine principals are checked against the route's machine. */
  async authorize(req: FastifyRequest, route: RouteAccess): Promise<Principal> {
    const p = await this.principalOf(req);
    const d = decide(p, route, req.params as Record<string, string>);
    if (!d.allow) throw new FarrierError('FORBIDDEN', d.reason);
    if (needsPassword(route) && p.kind === 'user' && p.via !== 'password') {
      throw unauthorized(`${route.method} /api/v1${route.path} takes Basic credentials (user and password) only`);
    }
    if (p.kind === 'machine' && d.ownMachineKey !== undefined) {
      const m = await this.services.machines.findRaw(d.ownMachineKey);
      if (!m || m.uuid !== p.uuid) throw new FarrierError('FORBIDDEN', 'a machine token may only act on its own machine');
    }
    return p;
  }
}
