import { createHmac } from 'node:crypto';

/**
 * One signed POST, as the receiver sees it (README, "Webhooks", has the verification snippet):
 *
 *   Content-Type: application/json
 *   Webhook-Id: <webhook id>
 *   Webhook-Timestamp: <unix seconds when this attempt was signed>
 *   Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * The scheme of Stripe's and GitHub's webhooks: the timestamp is signed with the body, so a receiver
 * that refuses timestamps older than a few minutes cannot be replayed an old request; every attempt
 * is signed anew (same body, new timestamp). The `v1=` prefix leaves room for another scheme (several
 * signatures separated by ", " during a key rotation) without breaking a receiver that looks for v1.
 */
export const SIGNATURE_VERSION = 'v1';

export function signature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** A request that failed: not answered 2xx, not answered in time, or not connected. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    /** Short and stable, for dead letters and logs: "HTTP 500", "timeout", "ECONNREFUSED". */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SignedPost {
  readonly url: string;
  readonly webhookId: string;
  readonly secret: string;
  readonly body: string;
}

/**
 * POSTs the body with its signature; resolves on a 2xx, throws a DeliveryError otherwise. Redirects are
 * not followed (a 3xx is a failure): following one would send the signed events somewhere the operator
 * did not configure. The response body is not read: only the status counts.
 */
export async function postSigned(req: SignedPost, signal: AbortSignal): Promise<void> {
  const timestamp = Math.floor(Date.now() / 1000);
  let response: Response;
  try {
    response = await fetch(req.url, {
      method: 'POST',
      redirect: 'manual',
      signal,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'auditstream-webhook/1',
        'webhook-id': req.webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': `${SIGNATURE_VERSION}=${signature(req.secret, timestamp, req.body)}`,
      },
      body: req.body,
    });
  } catch (err) {
    throw networkFailure(err);
  }
  // Free the connection for the next request without reading what the endpoint says.
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status > 299) {
    throw new DeliveryError(`HTTP ${response.status}`, `the endpoint answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
}

/** fetch's "fetch failed" names its cause (ECONNREFUSED, ECONNRESET, ENOTFOUND, UND_ERR_SOCKET, ...). */
function networkFailure(err: unknown): DeliveryError {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const code = (cause as { code?: unknown }).code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new DeliveryError(typeof code === 'string' ? code : (cause as Error).name || 'network error', message.slice(0, 500));
}
