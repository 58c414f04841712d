import { App } from './app.js';
import { loadConfig } from './config/load.js';

/**
 * Runs the service until SIGTERM or SIGINT, then shuts down gracefully. A second signal exits at once.
 * (Telemetry bootstrap goes first here once tracing exists, before grpc-js is loaded.)
 */
export async function serve(configFile?: string): Promise<void> {
  const config = loadConfig(configFile);
  const app = await App.start(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    app.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
