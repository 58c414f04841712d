import { healthClient, EXIT } from './client.js';
import type { ConnectionFlags } from './options.js';
import { out, outJson } from './output.js';

/** `auditstream health`: grpc.health.v1 Check; exit 1 unless SERVING (an unreachable server fails too). */
export async function healthCommand(flags: ConnectionFlags & { service: string }): Promise<number> {
  const client = healthClient(flags);
  try {
    const { status } = await new Promise<{ status: string }>((resolve, reject) =>
      client.check({ service: flags.service }, (err, res) => (err ? reject(err) : resolve(res))));
    if (flags.json) outJson({ server: flags.server, service: flags.service, status });
    else out(`${status}${flags.service ? ` (${flags.service})` : ''}`);
    return status === 'SERVING' ? EXIT.OK : EXIT.FAILED;
  } finally {
    client.close();
  }
}
