// Loaded into the auditstream server process by the bench only (NODE_OPTIONS="--import <this file>",
// with BENCH_PROBE_FILE set); plain JavaScript because it loads before tsx. It changes nothing in the
// service; it:
// - writes {pid, argv} to BENCH_PROBE_FILE at start, so the bench can kill the server even if it
//   never reports that it is serving, and remove its temporary config folder afterwards;
// - on SIGUSR2, runs a full GC twice and writes process.memoryUsage() and the ports the process
//   listens on (the HTTP port is not otherwise known to the bench);
// - exits if its parent (the bench) goes away, so no server outlives a killed bench.
// It never writes to stdout: the server's stdout is parsed as JSON log lines.
import fs from 'node:fs';
import process from 'node:process';
import v8 from 'node:v8';
import { setInterval } from 'node:timers';
import vm from 'node:vm';

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  let seq = 0;
  const write = (extra) => {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, argv: process.argv, seq, ...extra }));
    fs.renameSync(`${file}.tmp`, file);
  };
  write({});
  process.on('SIGUSR2', () => {
    gc();
    gc();
    const ports = process
      ._getActiveHandles()
      .filter((h) => h && typeof h.address === 'function' && typeof h.listen === 'function')
      .map((h) => h.address())
      .filter((a) => a && typeof a === 'object')
      .map((a) => a.port);
    seq++;
    write({ memory: process.memoryUsage(), ports });
  });
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(1);
  }, 1000).unref();
}
