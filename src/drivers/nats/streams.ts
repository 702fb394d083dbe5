// Which JetStream stream holds a topic: whichever stream already captures its subject, or
// else one the driver creates per topic root ('orders.placed' -> 'OMNIBUS_orders' on
// 'orders' and 'orders.>'), so an operator's own streams are used as they are.

import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { ConfigurationError } from '../../core/errors.js';

export interface StreamLayout {
  subjectPrefix: string;
  streamPrefix: string;
  streamTokens: number;
  dedupeWindowMs: number;
  stream: Partial<StreamConfig>;
}

const NAME_UNSAFE = /[^A-Za-z0-9_-]/g;

/** The stream that holds delayed messages (delayed.ts): a '-' after the prefix, where topic streams have '_', so no topic root names it. */
export function delayedStreamName(streamPrefix: string): string {
  return `${streamPrefix}-delayed`;
}

export class StreamCatalog {
  /** Ensured streams by root subject; a failed attempt is forgotten so the next call retries. */
  private readonly ensured = new Map<string, Promise<string>>();
  /** Subjects known to have a stream, so publishing looks each one up once. */
  private readonly known = new Set<string>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly layout: StreamLayout,
  ) {}

  /** The subject of a topic or pattern's root, or undefined when a wildcard sits inside it. */
  private root(subject: string): string | undefined {
    const skip = this.layout.subjectPrefix === '' ? 0 : this.layout.subjectPrefix.split('.').length;
    const tokens = subject.split('.').slice(0, skip + this.layout.streamTokens);
    if (tokens.some((token) => token === '*' || token === '>')) return undefined;
    return tokens.join('.');
  }

  nameFor(root: string): string {
    const skip = this.layout.subjectPrefix === '' ? 0 : this.layout.subjectPrefix.split('.').length;
    const tokens = root.split('.').slice(skip);
    return `${this.layout.streamPrefix}_${tokens.join('_').replace(NAME_UNSAFE, '_')}`;
  }

  /** Makes sure a stream captures `subject` before the first publish to it; undefined once known. */
  beforePublish(subject: string): Promise<void> | undefined {
    if (this.known.has(subject)) return undefined;
    // Publishing first and creating on failure would not do: with a plain subscriber on the
    // subject the publish times out instead of failing fast.
    return this.ensureFor(subject).then(() => {
      if (this.known.size >= 10_000) this.known.clear();
      this.known.add(subject);
    });
  }

  /** After a publish found no stream: look again, creating it anew. */
  forget(): void {
    this.known.clear();
  }

  /** The stream that holds `subject`: one that captures it already, else a new one for its root. `again` forgets what was created. */
  async ensureFor(subject: string, again = false): Promise<string> {
    const [existing] = await this.capturing(subject);
    if (existing !== undefined) return existing;
    return this.createFor(subject, again);
  }

  /** Every stream whose subjects overlap a subscription's filter; creates the root stream when none does. */
  async forPattern(subject: string): Promise<string[]> {
    const names = await this.capturing(subject);
    return names.length > 0 ? names : [await this.createFor(subject, false)];
  }

  /** The streams whose subjects overlap `subject` (a topic or a pattern), without creating any; never the delayed one. */
  async capturing(subject: string): Promise<string[]> {
    const hidden = delayedStreamName(this.layout.streamPrefix);
    const names: string[] = [];
    for await (const name of this.jsm.streams.names(subject)) if (name !== hidden) names.push(name);
    return names;
  }

  private createFor(subject: string, again: boolean): Promise<string> {
    const root = this.root(subject);
    if (root === undefined) {
      return Promise.reject(
        new ConfigurationError(
          `no JetStream stream captures '${subject}', and its leading token(s) are wildcards, so the driver cannot ` +
            'name one to create; create a stream for these subjects, or publish to one of its topics first',
          { topic: subject },
        ),
      );
    }
    if (again) this.ensured.delete(root);
    let ensured = this.ensured.get(root);
    if (ensured === undefined) {
      ensured = this.create(root);
      ensured.catch(() => this.ensured.delete(root));
      this.ensured.set(root, ensured);
    }
    return ensured;
  }

  private async create(root: string): Promise<string> {
    const name = this.nameFor(root);
    const config: Partial<StreamConfig> & { name: string } = {
      storage: 'file',
      retention: 'limits',
      discard: 'old',
      num_replicas: 1,
      ...this.layout.stream,
      name,
      subjects: [root, `${root}.>`],
      duplicate_window: this.layout.dedupeWindowMs * 1_000_000,
    };
    try {
      await this.jsm.streams.add(config);
    } catch (error) {
      // Created meanwhile by another process, maybe with other limits: fine if it holds our subjects.
      const info = await this.jsm.streams.info(name).catch(() => undefined);
      if (info === undefined) throw error;
      if (!info.config.subjects?.includes(`${root}.>`)) {
        throw new ConfigurationError(
          `stream '${name}' exists but does not capture '${root}.>' (its subjects: ${info.config.subjects?.join(', ')}); ` +
            `add the subjects to it, or choose another streamPrefix`,
          { topic: root, cause: error },
        );
      }
    }
    return name;
  }
}
