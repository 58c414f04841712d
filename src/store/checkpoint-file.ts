import fs from 'node:fs';
import { type Checkpoint, checkpointFromJson, checkpointToJson } from '../domain/checkpoint.js';

/** How much of the file's end is read to find its newest line. */
const TAIL_BYTES = 64 * 1024;

/**
 * The checkpoints, one JSON line each, appended and fsynced, never rewritten: a separate file from the
 * log, so whoever can rewrite the database does not by that alone rewrite what was signed.
 */
export class CheckpointFile {
  constructor(readonly path: string) {}

  append(cp: Checkpoint): void {
    const fd = fs.openSync(this.path, 'a');
    try {
      fs.writeSync(fd, `${JSON.stringify(checkpointToJson(cp))}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The newest checkpoint, or undefined when the file is missing or empty; throws on a damaged last line. */
  newest(): Checkpoint | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, TAIL_BYTES);
      const tail = Buffer.alloc(length);
      fs.readSync(fd, tail, 0, length, size - length);
      const lines = tail.toString('utf8').split('\n').filter((line) => line.trim() !== '');
      const last = lines.at(-1);
      if (last === undefined) return undefined;
      try {
        return checkpointFromJson(JSON.parse(last));
      } catch (err) {
        throw new Error(`${this.path}: its last line is not a checkpoint (${(err as Error).message})`);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
