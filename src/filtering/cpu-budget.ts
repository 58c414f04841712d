/**
 * CPU time a caller's filter may spend: `msPerSecond` on average, with bursts up to `burstMs` above
 * that (a token bucket over milliseconds). A filter whose spending stays above its rate exhausts the
 * burst after burstMs / (spent rate - msPerSecond) seconds.
 */
export interface FilterBudget {
  readonly cpuMsPerSecond: number;
  readonly cpuBurstMs: number;
}

/** 5% of a core per subscription on average, half a second of burst (about 10 s at twice the rate). */
export const DEFAULT_FILTER_BUDGET: FilterBudget = { cpuMsPerSecond: 50, cpuBurstMs: 500 };

export class CpuBudget {
  private overspent = 0;

  constructor(
    private readonly budget: FilterBudget,
    private at = performance.now(),
  ) {}

  /** Records `ms` spent now; true once the spending beyond the rate has exceeded the burst. */
  charge(ms: number, now = performance.now()): boolean {
    const earned = ((now - this.at) / 1000) * this.budget.cpuMsPerSecond;
    this.overspent = Math.max(0, this.overspent + ms - earned);
    this.at = now;
    return this.overspent > this.budget.cpuBurstMs;
  }
}
