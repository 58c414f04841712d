import type { AppError } from '../../domain/errors.js';
import type { StoredAuditEvent } from '../../domain/event.js';
import type { Filter } from '../../domain/filter.js';
import type { Viewer } from '../../domain/ports.js';
import { compileFilter } from '../../filtering/compiled-filter.js';
import { CpuBudget, type FilterBudget } from '../../filtering/cpu-budget.js';

/** No rate limit inside the filter: the worker paces itself instead (see Selector.pace). */
const UNMETERED: FilterBudget = { cpuMsPerSecond: Number.POSITIVE_INFINITY, cpuBurstMs: Number.POSITIVE_INFINITY };

/**
 * Which events a webhook delivers, and in what form: its owner's view first (visibility, then
 * redaction), then its filter on that view, exactly as Subscribe and Query do (restrictTo): a filter
 * over values the owner cannot see would otherwise decide on them.
 *
 * A subscription whose CEL filter overspends its CPU budget is ended; a webhook has no caller waiting
 * on a stream, so it slows down instead: after a batch, when its filter has spent more than the budget
 * allows (audit.subscriber.filter_cpu_per_second, with filter_cpu_burst), it waits until the budget
 * has refilled. Only an evaluation over the per-evaluation cost limit stops it (`failure`): the
 * webhook is then paused with the reason, since going on would skip events the filter could not judge.
 */
export class Selector {
  private readonly filter;
  private readonly cpu: CpuBudget | undefined;
  private failed: AppError | undefined;

  constructor(
    filter: Filter,
    private readonly viewer: Viewer | undefined,
    maxExpressionLength: number,
    private readonly budget: FilterBudget,
  ) {
    this.filter = compileFilter(filter, maxExpressionLength, UNMETERED);
    this.filter.whenExhausted?.((err) => (this.failed ??= err));
    this.cpu = filter.expression ? new CpuBudget(budget) : undefined;
  }

  /** The event as the webhook delivers it, or undefined when it is not visible or does not match. */
  pick(event: StoredAuditEvent): StoredAuditEvent | undefined {
    const view = this.show(event);
    return view && this.filter.matches(view) ? view : undefined;
  }

  /** The owner's view of the event, filter aside (redrive: the letter matched when it failed). */
  show(event: StoredAuditEvent): StoredAuditEvent | undefined {
    if (!this.viewer) return event;
    return this.viewer.allows(event) ? this.viewer.present(event) : undefined;
  }

  /** Set once an evaluation failed its cost limit; from then on the filter matches nothing. */
  failure(): AppError | undefined {
    return this.failed;
  }

  /** How long to wait after a batch whose selection took `spentMs`: 0 while within the budget. */
  pace(spentMs: number): number {
    if (!this.cpu?.charge(spentMs)) return 0;
    // Over the burst: wait until the rate has earned a whole burst back.
    return Math.ceil((this.budget.cpuBurstMs / this.budget.cpuMsPerSecond) * 1000);
  }
}
