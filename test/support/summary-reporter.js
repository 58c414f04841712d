import process from 'node:process';

/**
 * A jest reporter that ends the run with the plain line CI reads, `N passed, N failed` (`, N skipped`
 * when some were), written as the process exits: after jest's own summary and anything printed after it.
 * A test file that could not run at all (an import error, a crash) counts as one failure.
 */
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    if (this.line === undefined) process.once('exit', () => process.stdout.write(`\n${this.line}\n`));
    this.line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
  }
}
