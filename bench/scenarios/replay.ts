import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker, type WorkerMessage } from '../support/processes.js';
import type { BenchContext, ScenarioResult } from '../support/report.js';
import { fixed, int, medianOf } from '../support/stats.js';
import { withTarget } from '../support/target.js';

const REPLAY_GOAL = 150_000;
const VERIFY_GOAL = 200_000;

interface Filled extends WorkerMessage {
  readonly events: number;
  readonly seconds: number;
  readonly bytes: number;
}

interface Replayed extends WorkerMessage {
  readonly outcome: string;
  readonly expected: number;
  readonly delivered: number;
  readonly inOrder: number;
  readonly firstDisorder: string;
  readonly firstEventMs: number;
  readonly seconds: number;
}

interface Verified extends WorkerMessage {
  readonly ok: boolean;
  readonly checked: number;
  readonly breakKind: string;
  readonly seconds: number;
}

interface ReplayRun {
  readonly replay: Replayed;
  readonly verify: Verified;
  /** Every stored event arrived once, in order: only then is the replay rate a figure. */
  readonly replayComplete: boolean;
  readonly verifyComplete: boolean;
  readonly replayPerSecond: number;
  readonly verifyPerSecond: number;
  readonly serverStartSeconds: number;
}

/** Builds the log once per bench run, in a worker process (the fill is setup, not measured). */
async function fillLog(file: string, events: number): Promise<Filled> {
  const worker = new Worker('workers/replay-fill.ts', 'replay fill');
  try {
    worker.send({ type: 'fill', path: file, count: events });
    return await worker.next<Filled>('filled', 60 * 60_000);
  } finally {
    await worker.stop();
  }
}

/** The database and, should the fill have left them, its WAL and shared-memory files. */
function copyLog(source: string, target: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(source + suffix)) copyFileSync(source + suffix, target + suffix);
  }
}

/** One repetition: a fresh server on a fresh copy of the log; the replay first, then VerifyChain. */
async function replayRun(source: string, events: number): Promise<ReplayRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-replay-run-'));
  try {
    const file = path.join(dir, 'audit.db');
    copyLog(source, file);
    const startedAt = performance.now();
    return await withTarget('auditstream', { databaseFile: file }, async (server) => {
      const serverStartSeconds = (performance.now() - startedAt) / 1000;
      const worker = new Worker('workers/replay-subscriber.ts', 'replay subscriber');
      try {
        worker.send({ type: 'connect', address: server.address });
        await worker.next('ready', 30_000);
        worker.send({ type: 'replay', expected: events });
        // The worker reports by itself when the stream stalls; this only bounds a replay that crawls.
        const replay = await worker.next<Replayed>('replayed', 120_000 + events);
        worker.send({ type: 'verify' });
        const verify = await worker.next<Verified>('verified', 11 * 60_000);
        return {
          replay, verify, serverStartSeconds,
          replayComplete: replay.delivered === events && replay.inOrder === events,
          verifyComplete: verify.ok && verify.checked === events,
          replayPerSecond: replay.delivered / replay.seconds,
          verifyPerSecond: verify.checked / verify.seconds,
        };
      } finally {
        await worker.stop();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function summary(r: ReplayRun): string {
  const replay = r.replayComplete
    ? `replay ${int(r.replayPerSecond)} events/s (${fixed(r.replay.seconds, 1)} s, first event after ${fixed(r.replay.firstEventMs, 0)} ms)`
    : `replay INCOMPLETE: ${r.replay.outcome}, ${int(r.replay.delivered)} delivered, ${int(r.replay.inOrder)} in order${r.replay.firstDisorder ? `, ${r.replay.firstDisorder}` : ''}`;
  const verify = r.verifyComplete
    ? `VerifyChain ${int(r.verifyPerSecond)} events/s (${fixed(r.verify.seconds, 1)} s)`
    : `VerifyChain ok=${r.verify.ok} checked ${int(r.verify.checked)}${r.verify.breakKind ? ` (${r.verify.breakKind})` : ''}`;
  return `${replay}; ${verify}; server ready in ${fixed(r.serverStartSeconds, 1)} s`;
}

/** Scenario 8: the stored log replayed to one subscriber, and its hash chain verified, by the server. */
export async function replayScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const events = ctx.logEvents;
  const dir = mkdtempSync(path.join(tmpdir(), 'auditstream-replay-'));
  try {
    const source = path.join(dir, 'source.db');
    const filled = await fillLog(source, events);
    const mib = filled.bytes / 2 ** 20;
    ctx.log(`  filled ${int(events)} events in ${fixed(filled.seconds, 1)} s (${int(events / filled.seconds)} events/s), ${int(mib)} MiB`);
    const runs: ReplayRun[] = [];
    const failures: string[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      try {
        const run = await replayRun(source, events);
        runs.push(run);
        ctx.log(`  replay, run ${rep + 1}/${ctx.reps}: ${summary(run)}`);
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
        failures.push(`run ${rep + 1}: ${message}`);
        ctx.log(`  replay, run ${rep + 1}/${ctx.reps}: FAILED ${message}`);
      }
    }
    const replays = runs.filter((r) => r.replayComplete);
    const verifies = runs.filter((r) => r.verifyComplete);
    const replayRate = medianOf(replays, (r) => r.replayPerSecond);
    const verifyRate = medianOf(verifies, (r) => r.verifyPerSecond);
    const meets = (rate: number, goal: number): string => (Number.isFinite(rate) ? (rate >= goal ? 'yes' : `no (${fixed(rate / goal)} of it)`) : 'n/a');
    const delivered = runs.map((r) => `${int(r.replay.delivered)}/${int(events)} ${r.replayComplete ? 'in order' : `(${int(r.replay.inOrder)} in order)`}`).join(', ') || 'n/a';
    const checked = runs.map((r) => `${int(r.verify.checked)}/${int(events)} ${r.verify.ok ? 'intact' : `BROKEN (${r.verify.breakKind})`}`).join(', ') || 'n/a';
    return {
      id: 'replay', title: `8. Replay and chain verification (${int(events)} stored events)`,
      data: { events, fill: { seconds: filled.seconds, databaseMiB: mib }, goals: { replay: REPLAY_GOAL, verify: VERIFY_GOAL }, medians: { replayRate, verifyRate }, runs, failures },
      headers: ['measure', 'auditstream events/s', 'goal', 'meets goal', 'delivered or checked / expected, per run'],
      rows: [
        ['replay: one Subscribe from the start of the log, match-all', int(replayRate), `>= ${int(REPLAY_GOAL)}`, meets(replayRate, REPLAY_GOAL), delivered],
        ['VerifyChain over the whole log', int(verifyRate), `>= ${int(VERIFY_GOAL)}`, meets(verifyRate, VERIFY_GOAL), checked],
      ],
      notes: [
        `The log is built once per bench run by the real log class (src/store/sqlite-event-log.ts, in a worker process, batches of 2,000): ${int(events)} deterministic events spread over 30 days, 20,000 entities and 5,000 users, with two small metadata keys (${int(mib)} MiB). Each repetition copies it into a new temporary folder and starts \`auditstream serve\` on the copy with the default configuration (audit.subscriber.batch_size 100); no baseline: the bare server stores nothing.`,
        'Replay: one client process opens ONE Subscribe stream with after_sequence 0 and no filter, on a channel connected beforehand (with the client library\'s 8 MiB HTTP/2 flow-control window; grpc-js\'s default 64 KiB allows 64 KiB per round trip); events/s = events / (time from the Subscribe call to the receipt of the last event), timed in the client. The client reads every frame and checks the sequences are 1..N in order; a run in which an event was missing, repeated or out of order does not count (its rate is left out of the median).',
        'VerifyChain: then, on the same server, one VerifyChain call over the whole log (both bounds 0); events/s = events checked / the call\'s round trip, timed in the client. The server recomputes every hash and link of the range.',
        `Medians over the complete runs of ${ctx.reps} repetition(s), each against a fresh server process on a fresh copy.`,
        ...failures,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
