// GET /v1/topics: the topics published through this gateway, counted per message under
// their full bus names, and shown to each client only inside its tenant, by its own names.

import type { Principal } from './auth.js';

/** Topics kept at most; beyond it new topics are not counted (a flood of names cannot grow memory). */
const MAX_TOPICS = 10_000;

export interface TopicCount {
  topic: string;
  published: number;
  lastPublished: string;
}

export class TopicCounts {
  private readonly counts = new Map<string, { published: number; lastPublished: number }>();

  /** Counts each published message under its bus topic (tenant prefix included). */
  count(items: ReadonlyArray<{ topic: string }>): void {
    const now = Date.now();
    for (const { topic } of items) {
      let entry = this.counts.get(topic);
      if (entry === undefined) {
        if (this.counts.size >= MAX_TOPICS) continue;
        this.counts.set(topic, (entry = { published: 0, lastPublished: 0 }));
      }
      entry.published++;
      entry.lastPublished = now;
    }
  }

  /** What `principal` may see: its tenant's topics, relative to it, that it may subscribe to. */
  visibleTo(principal: Principal): TopicCount[] {
    const visible: TopicCount[] = [];
    for (const [busTopic, entry] of this.counts) {
      const topic = principal.ownTopic(busTopic);
      if (topic === undefined || !principal.canSubscribe(topic)) continue;
      visible.push({ topic, published: entry.published, lastPublished: new Date(entry.lastPublished).toISOString() });
    }
    return visible;
  }
}
