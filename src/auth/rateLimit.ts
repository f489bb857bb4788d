/**
 * Failed-password throttle per user+client address: after `maxFailures` failures inside `windowMs`, further
 * attempts are refused (429) until the window has passed. A success clears the counter. Memory is bounded:
 * the oldest entries are dropped beyond `maxEntries`.
 */
export class PasswordThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 5 * 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  private entry(key: string, now: number): { count: number; since: number } | undefined {
    const e = this.failures.get(key);
    if (e && now - e.since >= this.windowMs) {
      this.failures.delete(key);
      return undefined;
    }
    return e;
  }

  /** Seconds until the next attempt is allowed, or 0 when allowed now. */
  retryAfter(user: string, ip: string, now = Date.now()): number {
    const e = this.entry(`${user}\u0000${ip}`, now);
    return e && e.count >= this.maxFailures ? Math.ceil((e.since + this.windowMs - now) / 1000) : 0;
  }

  fail(user: string, ip: string, now = Date.now()): void {
    const key = `${user}\u0000${ip}`;
    const e = this.entry(key, now);
    if (e) e.count++;
    else {
      if (this.failures.size >= this.maxEntries) this.failures.delete(this.failures.keys().next().value!);
      this.failures.set(key, { count: 1, since: now });
    }
  }

  succeed(user: string, ip: string): void {
    this.failures.delete(`${user}\u0000${ip}`);
  }
}
