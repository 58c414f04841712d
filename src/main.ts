import { loadConfig } from './config/load.js';
import { startTelemetry } from './observability/telemetry.js';

/**
 * Runs the service until SIGTERM or SIGINT, then shuts down gracefully. A second signal exits at once.
 * Order matters: config (to know the telemetry settings), then telemetry, and only then the app, so
 * the gRPC instrumentation is in place before @grpc/grpc-js is first loaded.
 */
export async function serve(configFile?: string): Promise<void> {
  const config = loadConfig(configFile);
  const telemetry = await startTelemetry(config.telemetry);
  const { App } = await import('./app.js');
  const app = await App.start(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    app.shutdown().then(() => telemetry.shutdown()).then(
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
