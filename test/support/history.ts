import type { AuditServiceClient, QueryOrder, QueryRequest, QueryResponse } from '../../generated/audit/v1/audit_service.js';
import type { AuditEvent } from '../../generated/audit/v1/event.js';
import { filterOf } from './server.js';

/** One Query page: its events and the token of the next page. */
export function queryPage(client: AuditServiceClient, request: Partial<QueryRequest>): Promise<{ events: AuditEvent[]; next: string }> {
  return new Promise((resolve, reject) => {
    const events: AuditEvent[] = [];
    let next = '';
    const call = client.query({ filter: filterOf(), order: 0, limit: 0, pageToken: '', ...request });
    call.on('data', (m: QueryResponse) => {
      if (m.kind?.$case === 'events') events.push(...m.kind.events.events);
      if (m.kind?.$case === 'pageEnd') next = m.kind.pageEnd.nextPageToken;
    });
    call.on('error', reject);
    call.on('end', () => resolve({ events, next }));
  });
}

/** Every stored event, page by page. */
export async function readAll(client: AuditServiceClient, order: QueryOrder): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  let pageToken = '';
  do {
    const page = await queryPage(client, { order, limit: 1000, pageToken });
    all.push(...page.events);
    pageToken = page.next;
  } while (pageToken !== '');
  return all;
}
