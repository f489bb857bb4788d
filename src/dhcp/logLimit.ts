/**
 * Per-key log rate limiting. Anything a client can trigger per packet (pool exhausted, declines, failures)
 * would otherwise let one noisy or hostile client fill the disk with log lines; the first line per key is
 * written at once, later ones at most every `intervalMs`, with how many were held back meanwhile.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1000,
  ) {}

  /** Calls `write(suppressed)` when a line for `key` is due; otherwise counts it as suppressed. */
  log(key: string, write: (suppressed: number) => void): void {
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    // Keys come from configuration (subnets) or a fixed set, but bound the map anyway.
    if (!seen && this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, { at: now, suppressed: 0 });
    write(seen?.suppressed ?? 0);
  }
}
