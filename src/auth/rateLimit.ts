/**
 * Failed-password throttle. Per user+client address: after `maxFailures` failures inside `windowMs`, further
 * attempts are refused (429) until the window has passed; a success clears that counter. Per client
 * address across all names: `maxAddressFailures` failures (a higher bound, so one mistyped account does not
 * lock out its neighbours) refuse every name from it, which stops spraying one password over many users.
 * Memory is bounded: the oldest entries are dropped beyond `maxEntries`.
 */
interface Entry {
  count: number;
  since: number;
}

export class PasswordThrottle {
  private readonly failures = new Map<string, Entry>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 5 * 60_000,
    private readonly maxEntries = 10_000,
    private readonly maxAddressFailures = 100,
  ) {}

  private entry(key: string, now: number): Entry | undefined {
    const e = this.failures.get(key);
    if (e && now - e.since >= this.windowMs) {
      this.failures.delete(key);
      return undefined;
    }
    return e;
  }

  private wait(key: string, limit: number, now: number): number {
    const e = this.entry(key, now);
    return e && e.count >= limit ? Math.ceil((e.since + this.windowMs - now) / 1000) : 0;
  }

  private count(key: string, now: number): void {
    const e = this.entry(key, now);
    if (e) e.count++;
    else {
      if (this.failures.size >= this.maxEntries) this.failures.delete(this.failures.keys().next().value!);
      this.failures.set(key, { count: 1, since: now });
    }
  }

  /** Seconds until the next attempt is allowed, or 0 when allowed now. */
  retryAfter(user: string, ip: string, now = Date.now()): number {
    return Math.max(this.wait(`${user}\u0000${ip}`, this.maxFailures, now), this.wait(`\u0000${ip}`, this.maxAddressFailures, now));
  }

  fail(user: string, ip: string, now = Date.now()): void {
    this.count(`${user}\u0000${ip}`, now);
    this.count(`\u0000${ip}`, now);
  }

  /** Clears the user's counter at this address; the address's count of failures stays until its window ends. */
  succeed(user: string, ip: string): void {
    this.failures.delete(`${user}\u0000${ip}`);
  }
}
