// AsyncAPI 3.0 from a catalogue. Topics become channels, their wildcards channel parameters;
// payload schemas come from the schema library itself through Standard JSON Schema
// (`~standard.jsonSchema`, zod 4.2 and later), never from a converter of our own.

import type { StandardJSONSchemaV1 } from '@standard-schema/spec';
import { ConfigurationError } from '../core/errors.js';
import type { EventDefinition } from '../core/event.js';
import { HEADER } from '../core/message.js';
import type { Catalog } from './catalog.js';

export interface AsyncApiServer {
  /** `host[:port]`, as AsyncAPI has it: `gateway.example.com:443`. */
  host: string;
  /** `ws`, `wss`, `http`, `https`, `nats`, `redis`, `kafka`, `postgres`, ... */
  protocol: string;
  pathname?: string;
  description?: string;
}

export interface AsyncApiOptions {
  title: string;
  version: string;
  description?: string;
  servers?: Record<string, AsyncApiServer>;
}

/** The JSON Schema dialect payloads are written in: the one AsyncAPI tools read most widely. */
const SCHEMA_FORMAT = 'application/schema+json;version=draft-07';

export function asyncApiDocument(catalog: Catalog, options: AsyncApiOptions): Record<string, unknown> {
  const ids = new Ids();
  const channels: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const channelOf = new Map<EventDefinition, string>();
  for (const event of catalog.events) {
    const id = ids.for(event.topic);
    channelOf.set(event, id);
    const { address, parameters } = channelAddress(event.topic);
    messages[id] = message(event);
    channels[id] = {
      address,
      ...(event.description === undefined ? {} : { description: event.description }),
      messages: { [id]: { $ref: `#/components/messages/${id}` } },
      ...(parameters === undefined ? {} : { parameters }),
    };
  }
  const operation = (action: 'send' | 'receive', event: EventDefinition) => {
    const id = channelOf.get(event)!;
    operations[`${action}_${id}`] = {
      action,
      channel: { $ref: `#/channels/${id}` },
      messages: [{ $ref: `#/channels/${id}/messages/${id}` }],
    };
  };
  for (const event of catalog.publishes) operation('send', event);
  for (const event of catalog.subscribes) operation('receive', event);
  return {
    asyncapi: '3.0.0',
    info: { title: options.title, version: options.version, ...(options.description === undefined ? {} : { description: options.description }) },
    ...(options.servers === undefined ? {} : { servers: options.servers }),
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages },
  };
}

/** `orders.*.placed` → `orders.{token2}.placed`; `>` → `{rest}`, which spans one or more tokens. */
function channelAddress(topic: string): { address: string; parameters?: Record<string, unknown> } {
  const parameters: Record<string, unknown> = {};
  const address = topic
    .split('.')
    .map((token, index) => {
      if (token === '*') {
        parameters[`token${index + 1}`] = { description: `Any one token at position ${index + 1} (the pattern's '*').` };
        return `{token${index + 1}}`;
      }
      if (token === '>') {
        parameters.rest = { description: "One or more tokens joined by '.' (the pattern's '>')." };
        return '{rest}';
      }
      return token;
    })
    .join('.');
  return Object.keys(parameters).length === 0 ? { address } : { address, parameters };
}

function message(event: EventDefinition): Record<string, unknown> {
  return {
    name: event.topic,
    ...(event.description === undefined ? {} : { summary: event.description }),
    contentType: 'application/json',
    correlationId: { description: 'Carried across a chain of events; set from the handled message when publishing inside a handler.', location: `$message.header#/${HEADER.correlationId}` },
    payload: { schemaFormat: SCHEMA_FORMAT, schema: payloadSchema(event) },
    ...(event.example === undefined ? {} : { examples: [{ name: 'example', payload: event.example }] }),
  };
}

function payloadSchema(event: EventDefinition): Record<string, unknown> {
  const converter = (event.schema['~standard'] as Partial<StandardJSONSchemaV1.Props>).jsonSchema;
  if (converter === undefined) {
    const vendor = event.schema['~standard'].vendor;
    throw new ConfigurationError(
      `the schema of '${event.topic}' (${vendor}) cannot describe itself as JSON Schema: the catalogue needs a library that implements Standard JSON Schema, such as zod 4.2 or later`,
      { topic: event.topic },
    );
  }
  try {
    return converter.input({ target: 'draft-07' });
  } catch (error) {
    throw new ConfigurationError(`the schema of '${event.topic}' has no JSON Schema form: ${(error as Error).message}`, { topic: event.topic, cause: error });
  }
}

/** Channel ids from topics: AsyncAPI keys allow letters, digits, '_' and '-'; distinct topics stay distinct. */
class Ids {
  private readonly used = new Set<string>();

  for(topic: string): string {
    const base = topic.replace(/\*/g, 'any').replace(/>/g, 'rest').replace(/[^A-Za-z0-9_-]/g, '_');
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}_${n}`;
    this.used.add(id);
    return id;
  }
}
