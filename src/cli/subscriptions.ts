import {
  type GetSubscriptionStatsResponse, type ListSubscriptionsResponse, SubscriptionInfo, type UnsubscribeResponse,
} from '../../generated/audit/v1/audit_service.js';
import { fromTimestamp } from '../contract/time-mapping.js';
import { call, connect, EXIT, UsageError } from './client.js';
import type { ConnectionFlags } from './options.js';
import { out, outJson } from './output.js';

const age = (since: Date | undefined): string => {
  if (!since) return '-';
  const s = Math.max(0, Math.round((Date.now() - since.getTime()) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

/** `auditstream subscriptions [list]`: every active subscription with its counters (--json: one line each). */
export async function listSubscriptions(flags: ConnectionFlags): Promise<number> {
  const client = connect(flags);
  try {
    const { subscriptions } = await call<ListSubscriptionsResponse>((cb) => client.listSubscriptions({}, cb));
    if (flags.json) {
      subscriptions.forEach((s) => outJson(SubscriptionInfo.toJSON(s)));
      return EXIT.OK;
    }
    if (subscriptions.length === 0) {
      out('no active subscriptions');
      return EXIT.OK;
    }
    const rows = [['ID', 'TRANSPORT', 'CLIENT', 'MODE', 'MATCHED', 'DELIVERED', 'DROPPED', 'LAG', 'CURSOR', 'AGE'],
      ...subscriptions.map((s) => [s.subscriptionId, s.transport, s.clientName || '-', s.mode, s.matched, s.delivered, s.dropped, s.lag, s.cursor, age(s.createdAt && fromTimestamp(s.createdAt).date)].map(String))];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
    for (const r of rows) out(r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
    return EXIT.OK;
  } finally {
    client.close();
  }
}

function checkId(id: string): string {
  if (id.trim() === '') throw new UsageError('expected a subscription id (see `auditstream subscriptions`)');
  return id;
}

/** `auditstream subscriptions show ID`: one subscription's filter and counters. */
export async function showSubscription(id: string, flags: ConnectionFlags): Promise<number> {
  const client = connect(flags);
  try {
    const { subscription } = await call<GetSubscriptionStatsResponse>((cb) => client.getSubscriptionStats({ subscriptionId: checkId(id) }, cb));
    if (!subscription) throw new Error(`the server sent no subscription for ${id}`);
    const json = SubscriptionInfo.toJSON(subscription) as Record<string, unknown>;
    if (flags.json) {
      outJson(json);
      return EXIT.OK;
    }
    for (const [key, value] of Object.entries(json)) out(`${key.padEnd(16)}${typeof value === 'string' ? value : JSON.stringify(value)}`);
    return EXIT.OK;
  } finally {
    client.close();
  }
}

/** `auditstream subscriptions end ID`: Unsubscribe; the subscriber's stream ends with OK. */
export async function endSubscription(id: string, flags: ConnectionFlags): Promise<number> {
  const client = connect(flags);
  try {
    await call<UnsubscribeResponse>((cb) => client.unsubscribe({ subscriptionId: checkId(id) }, cb));
    if (flags.json) outJson({ ended: id });
    else out(`ended subscription ${id}`);
    return EXIT.OK;
  } finally {
    client.close();
  }
}
