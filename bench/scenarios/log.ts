import type { QueryFigure, SqliteLogResult } from '../sqlite-log.bench.js';
import { Worker, type WorkerMessage } from '../support/processes.js';
import type { BenchContext, ScenarioResult } from '../support/report.js';
import { fixed, int } from '../support/stats.js';

/** Scenario 7: the SQLite event log by itself (bench/sqlite-log.bench.ts in a process of its own). */
export async function logScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const worker = new Worker('sqlite-log.bench.ts', 'sqlite log bench', [String(ctx.logEvents)]);
  let r: WorkerMessage & SqliteLogResult;
  try {
    r = await worker.next('result', 60 * 60_000);
  } finally {
    await worker.stop();
  }
  const q = (label: string, figure: QueryFigure): string[] =>
    [label, `${fixed(figure.p50Ms)} ms p50, ${fixed(figure.p95Ms)} ms p95 (${int(figure.avgRows)} rows on average, ${figure.runs} queries)`];
  return {
    id: 'log', title: `7. SQLite event log (${int(r.events)} events)`, data: r,
    headers: ['measure', 'figure'],
    rows: [
      [`append, batches of ${r.appendBatch} (group commit)`, `${int(r.appendEventsPerSecond)} events/s (median of ${r.appendSegmentRates.length} segments of the fill; whole fill ${fixed(r.fillSeconds, 1)} s)`],
      ['append, one event per commit', `${int(r.singleAppendsPerSecond)} events/s`],
      ...r.queries.map((figure) => q(`Query: ${figure.label}`, figure)),
      ['chain verification', `${int(r.verifyEventsPerSecond)} events/s (median of ${r.verifyPassRates.length} passes over ${int(r.verifiedPerPass)} events, ok=${r.verifyOk})`],
      ['database size', `${int(r.databaseMiB)} MiB`],
    ],
    notes: [
      'The log by itself (src/store/sqlite-event-log.ts, synchronous=full, WAL) in one process, on a temporary database; deterministic events spread over 30 days, 20,000 entities and 5,000 users. Run once (the fill dominates the time); each query figure is over that many different queries.',
    ],
  };
}
