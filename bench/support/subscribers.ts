import { withTimeout, Worker, type WorkerMessage } from './processes.js';
import { sleep } from './stats.js';
import type { Target } from './target.js';

export interface GroupOptions {
  readonly subscriptions: number;
  /** Worker processes to spread the subscriptions over. */
  readonly processes: number;
  /** Subscriptions per gRPC channel (HTTP/2 connection); 1 = a connection per subscription. */
  readonly perChannel: number;
  /** Keep publish -> receive latencies of events with index >= warmupIndex. */
  readonly latency?: boolean;
  readonly warmupIndex?: number;
}

export interface GroupResult {
  /** Every subscription received at least the expected count. */
  readonly complete: boolean;
  readonly delivered: number;
  readonly minPerSubscription: number;
  readonly maxPerSubscription: number;
  readonly outOfOrder: number;
  readonly streamErrors: number;
  readonly errorSample: string;
  /** CLOCK_MONOTONIC µs of the last event received by any subscription. */
  readonly lastReceiveUs: number;
  readonly latenciesUs: number[];
}

type Done = WorkerMessage & Omit<GroupResult, 'latenciesUs'> & { latenciesUs: number[] };

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0)).filter((n) => n > 0);
}

/** Subscribe streams held by bench/workers/subscriber.ts processes. */
export class SubscriberGroup {
  private readonly progress = new Map<Worker, number>();

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      this.progress.set(w, 0);
      w.onProgress = (m) => this.progress.set(w, Number(m.delivered));
    }
  }

  static async open(target: Target, options: GroupOptions): Promise<SubscriberGroup> {
    const parts = split(options.subscriptions, options.processes);
    const group = new SubscriberGroup(parts.map((_, i) => new Worker('workers/subscriber.ts', `subscriber ${i + 1}`)));
    try {
      parts.forEach((n, i) => group.workers[i].send({
        type: 'open', address: target.address, subscriptions: n, channels: Math.ceil(n / options.perChannel),
        latency: options.latency ?? false, warmupIndex: options.warmupIndex ?? 0,
      }));
      const timeout = 60_000 + options.subscriptions * 20;
      await Promise.all(group.workers.map((w) => w.next('ready', timeout)));
    } catch (err) {
      await group.close();
      throw err;
    }
    return group;
  }

  get delivered(): number {
    let sum = 0;
    for (const n of this.progress.values()) sum += n;
    return sum;
  }

  /**
   * Waits until every subscription has `perSubscription` events, or until nothing new arrived for
   * `stallMs`, or `maxMs` passed; then collects what each worker saw.
   */
  async expectAll(perSubscription: number, stallMs: number, maxMs: number): Promise<GroupResult> {
    const dones = new Map<Worker, Done>();
    const pending = this.workers.map((w) => w.next<Done>('done', maxMs + 60_000).then((d) => dones.set(w, d)));
    for (const w of this.workers) w.send({ type: 'expect', perSubscription });
    const started = Date.now();
    let last = this.delivered;
    let lastChange = Date.now();
    while (dones.size < this.workers.length && Date.now() - started < maxMs && Date.now() - lastChange < stallMs) {
      await Promise.race([Promise.all(pending), sleep(250)]);
      if (this.delivered !== last) {
        last = this.delivered;
        lastChange = Date.now();
      }
    }
    if (dones.size < this.workers.length) {
      for (const w of this.workers) if (!dones.has(w)) w.send({ type: 'collect' });
    }
    await withTimeout(Promise.all(pending), 30_000, 'the subscribers to report');
    const all = this.workers.map((w) => dones.get(w)!);
    const latenciesUs: number[] = [];
    for (const d of all) for (const l of d.latenciesUs) latenciesUs.push(l);
    return {
      complete: all.every((d) => d.complete),
      delivered: all.reduce((s, d) => s + d.delivered, 0),
      minPerSubscription: Math.min(...all.map((d) => d.minPerSubscription)),
      maxPerSubscription: Math.max(...all.map((d) => d.maxPerSubscription)),
      outOfOrder: all.reduce((s, d) => s + d.outOfOrder, 0),
      streamErrors: all.reduce((s, d) => s + d.streamErrors, 0),
      errorSample: all.map((d) => d.errorSample).find(Boolean) ?? '',
      lastReceiveUs: Math.max(...all.map((d) => d.lastReceiveUs)),
      latenciesUs,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}

/** A publisher worker (bench/workers/publisher.ts) connected to the target. */
export async function openPublisher(target: Target): Promise<Worker> {
  const publisher = new Worker('workers/publisher.ts', 'publisher');
  try {
    publisher.send({ type: 'connect', address: target.address });
    await publisher.next('ready', 30_000);
  } catch (err) {
    await publisher.stop();
    throw err;
  }
  return publisher;
}
