/** Committed consumer group offsets (what Kafka keeps in __consumer_offsets). */

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

export class CommittedOffsets {
  private readonly groups = new Map<string, Map<string, CommittedOffset>>();

  commit(groupId: string, entry: CommittedOffset): void {
    let group = this.groups.get(groupId);
    if (!group) this.groups.set(groupId, (group = new Map()));
    group.set(`${entry.topic}\u0000${entry.partition}`, entry);
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.get(`${topic}\u0000${partition}`);
  }

  list(groupId: string): CommittedOffset[] {
    return [...(this.groups.get(groupId)?.values() ?? [])].sort(
      (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
    );
  }
}
