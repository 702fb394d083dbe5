// The event catalogue: the events an application speaks, with what it publishes and what it
// subscribes to, checked once when defined so a stale example or a duplicate topic is found
// at start-up rather than in the published document.

import { ConfigurationError, ValidationError } from '../core/errors.js';
import type { EventDefinition } from '../core/event.js';
import { asyncApiDocument, type AsyncApiOptions } from './asyncapi.js';

export interface CatalogOptions {
  /** The events this application publishes (AsyncAPI `send` operations). Default: every event. */
  publishes?: EventDefinition[];
  /** The events it subscribes to (`receive` operations). Default: every event. */
  subscribes?: EventDefinition[];
}

export interface Catalog {
  readonly events: readonly EventDefinition[];
  readonly publishes: readonly EventDefinition[];
  readonly subscribes: readonly EventDefinition[];
  /** An AsyncAPI 3.0 document: topics as channels, payloads as JSON Schema, operations as above. */
  toAsyncAPI(options: AsyncApiOptions): Record<string, unknown>;
}

export function defineCatalog(events: EventDefinition[], options: CatalogOptions = {}): Catalog {
  const topics = new Set<string>();
  for (const event of events) {
    if (topics.has(event.topic)) throw new ConfigurationError(`the catalogue lists topic '${event.topic}' twice; each event has one entry`, { topic: event.topic });
    topics.add(event.topic);
    checkExample(event);
  }
  const listed = (chosen: EventDefinition[] | undefined, role: string) => {
    for (const event of chosen ?? []) {
      if (!events.includes(event)) throw new ConfigurationError(`'${event.topic}' is in ${role} but not among the catalogue's events`, { topic: event.topic });
    }
    return Object.freeze([...(chosen ?? events)]);
  };
  const catalog: Catalog = {
    events: Object.freeze([...events]),
    publishes: listed(options.publishes, 'publishes'),
    subscribes: listed(options.subscribes, 'subscribes'),
    toAsyncAPI: (asyncApi) => asyncApiDocument(catalog, asyncApi),
  };
  return Object.freeze(catalog);
}

/** An example that its own schema refuses would document a payload nobody may send. */
function checkExample(event: EventDefinition): void {
  if (event.example === undefined) return;
  const result = event.schema['~standard'].validate(event.example);
  if (result instanceof Promise) return; // async schemas are checked where they are used
  if (result.issues !== undefined) {
    const summary = result.issues.map((issue) => issue.message).join('; ');
    throw new ValidationError(`the example of '${event.topic}' does not match its schema: ${summary}`, result.issues, { topic: event.topic });
  }
}
