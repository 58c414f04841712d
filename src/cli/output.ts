/**
 * Where the CLI writes. Results go to stdout (one line each); progress only to a terminal on stderr,
 * and cleared before any other line is written, so it never runs into event lines. A reader that
 * goes away (`auditstream tail --json | head -2`) ends the command quietly with exit 0.
 */

let progressShown = false;

/** Clears the progress line, if one is showing. */
export function endProgress(): void {
  if (!progressShown) return;
  process.stderr.write('\r\u001b[K');
  progressShown = false;
}

/** Shows (replaces) the progress line; nothing when stderr is not a terminal. */
export function progress(text: string): void {
  if (process.stderr.isTTY !== true) return;
  process.stderr.write(`\r${text}\u001b[K`);
  progressShown = true;
}

/** One result line on stdout. */
export function out(line: string): void {
  endProgress();
  process.stdout.write(`${line}\n`);
}

/** One JSON value as a line on stdout. */
export function outJson(value: unknown): void {
  out(JSON.stringify(value));
}

/** One line on stderr (warnings, summaries, problems). */
export function note(line: string): void {
  endProgress();
  process.stderr.write(`${line}\n`);
}

/**
 * A closed stdout (EPIPE: the reader exited) ends the process with 0 and no stack trace: the
 * reader took what it wanted. A closed stderr is ignored.
 */
export function quietOnClosedPipes(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(0);
    throw err;
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
