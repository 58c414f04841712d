import { Worker } from 'node:worker_threads';

/**
 * A worker thread running one of the store's thread modules (`name`, e.g. 'sqlite-writer-thread'):
 * the .js beside this file once compiled. Run from source (tests, `tsx`), a worker does not inherit
 * the TypeScript loader, so it registers tsx first, then imports the .ts module.
 */
export function startThread(name: string, workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  const thread = new URL(`./${name}.ts`, import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(thread)}); })`;
  return new Worker(code, { eval: true, workerData });
}
