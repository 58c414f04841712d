import type { DeadLetterStore } from '../domain/dead-letters.js';
import { MemoryDeadLetters } from './memory-dead-letters.js';
import { nameTaken, type WebhookRecord, type WebhookStore } from './sqlite-webhooks.js';

/**
 * Webhooks for storage.type memory: definitions, cursors and dead letters are lost on restart, like
 * the events. Webhooks declared in the configuration are made again at every start (from the head).
 */
export class MemoryWebhooks implements WebhookStore {
  private readonly records = new Map<string, WebhookRecord>();
  private readonly cursors = new Map<string, number>();
  private readonly letters = new Map<string, MemoryDeadLetters>();

  list(): WebhookRecord[] {
    return [...this.records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  insert(record: WebhookRecord, cursor: number): void {
    if (this.list().some((r) => r.name === record.name)) throw nameTaken(record.name);
    this.records.set(record.id, record);
    this.cursors.set(record.id, cursor);
  }

  update(record: WebhookRecord): void {
    if (this.list().some((r) => r.name === record.name && r.id !== record.id)) throw nameTaken(record.name);
    this.records.set(record.id, record);
  }

  remove(id: string): number {
    const removed = this.letters.get(id)?.count() ?? 0;
    this.records.delete(id);
    this.cursors.delete(id);
    this.letters.delete(id);
    return removed;
  }

  cursor(id: string): { get(): number; set(sequence: number): void } {
    return { get: () => this.cursors.get(id) ?? 0, set: (sequence) => void this.cursors.set(id, sequence) };
  }

  deadLetters(id: string): DeadLetterStore {
    let store = this.letters.get(id);
    if (!store) this.letters.set(id, (store = new MemoryDeadLetters()));
    return store;
  }
}
