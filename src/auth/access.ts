/**
 * Who may call what. Roles: admin (everything), operator (everything but users and the token key), readonly
 * (GET only).
 * Machine tokens may only use routes marked `machine` and only for their own machine.
 */
import type { Principal } from '../core/tokens.js';

export interface RouteAccess {
  /** Spec path under /api/v1, e.g. `/machines/{key}`. */
  path: string;
  method: string;
  /** Machine tokens may call this route for their own machine (the `key` path parameter). */
  machine?: boolean;
  /** Any authenticated user may call it (e.g. POST /tokens). */
  anyUser?: boolean;
}

/**
 * POST /tokens takes the password only (the spec's `security: basicAuth`): a token that could mint its own
 * successor would outlive its expiry for as long as someone holding it kept renewing it.
 */
export const needsPassword = (route: RouteAccess): boolean => route.method === 'POST' && route.path === '/tokens';

export type Decision = { allow: true; ownMachineKey?: string } | { allow: false; reason: string };

export function decide(p: Principal, route: RouteAccess, params: Record<string, string>): Decision {
  if (p.kind === 'machine') {
    if (!route.machine) return { allow: false, reason: `machine tokens may not ${route.method} ${route.path}` };
    return { allow: true, ownMachineKey: params.key };
  }
  if (p.role === 'admin') return { allow: true };
  if (route.path === '/users' || route.path.startsWith('/users/')) return { allow: false, reason: `only admins manage users (you are ${p.role})` };
  if (route.path === '/tokens/rotate-key') return { allow: false, reason: `only admins rotate the token signing key (you are ${p.role})` };
  if (route.anyUser) return { allow: true };
  if (route.method === 'GET') return { allow: true };
  if (p.role === 'operator') return { allow: true };
  return { allow: false, reason: `role ${p.role} may only read` };
}
