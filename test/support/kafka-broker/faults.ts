/**
 * Fault injection: answer the next matching request(s) of an API with a
 * chosen Kafka error code. A fault with a topic only matches requests that
 * name that topic, and only that topic's partitions get the error.
 */
import { type ApiName, apiKeyOf } from './protocol.js';

export interface FaultSpec {
  /** API to fail, by Kafka name (e.g. 'Produce') or numeric key. */
  readonly apiKey: ApiName | number;
  /** Kafka error code to answer with, e.g. 10 (MESSAGE_TOO_LARGE). */
  readonly errorCode: number;
  /** How many matching requests fail (default 1). */
  readonly times?: number;
  /** Only requests about this topic (and only its partitions) fail. */
  readonly topic?: string;
}

/** A fault that matched the request being handled. */
export interface ActiveFault {
  readonly errorCode: number;
  /** The topic the fault is limited to, if any. */
  readonly topic: string | undefined;
  /** Whether a topic in this request gets the error. */
  appliesTo(topic: string): boolean;
}

interface Rule {
  readonly apiKey: number;
  readonly errorCode: number;
  readonly topic: string | undefined;
  remaining: number;
}

export class FaultInjector {
  private rules: Rule[] = [];

  add(spec: FaultSpec): void {
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`invalid times ${times}`);
    this.rules.push({ apiKey: apiKeyOf(spec.apiKey), errorCode: spec.errorCode, topic: spec.topic, remaining: times });
  }

  clear(): void {
    this.rules = [];
  }

  pending(): number {
    return this.rules.reduce((n, r) => n + r.remaining, 0);
  }

  /** Consumes one use of the first rule matching this request, if any. */
  take(apiKey: number, topics: Iterable<string>): ActiveFault | undefined {
    const names = new Set(topics);
    const rule = this.rules.find((r) => r.apiKey === apiKey && (r.topic === undefined || names.has(r.topic)));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining === 0) this.rules = this.rules.filter((r) => r !== rule);
    const only = rule.topic;
    return { errorCode: rule.errorCode, topic: only, appliesTo: (topic) => only === undefined || topic === only };
  }
}
