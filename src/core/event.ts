// Typed events: a topic bound to a Standard Schema (zod, valibot, arktype, ...).

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError } from './errors.js';
import { assertPattern } from './topic.js';

export interface EventDefinition<T = unknown> {
  readonly topic: string;
  readonly schema: StandardSchemaV1<unknown, T>;
  /** What the event means, for the catalogue (defineCatalog). */
  readonly description?: string;
  /** A payload as publishers send it, for the catalogue; defineCatalog checks it against the schema. */
  readonly example?: unknown;
}

/** What the catalogue says about an event besides its topic and schema. */
export interface EventInfo<Input> {
  description?: string;
  example?: Input;
}

export function defineEvent<S extends StandardSchemaV1>(
  topic: string,
  schema: S,
  info: EventInfo<StandardSchemaV1.InferInput<S>> = {},
): EventDefinition<StandardSchemaV1.InferOutput<S>> {
  assertPattern(topic);
  return Object.freeze({ topic, schema: schema as StandardSchemaV1<unknown, StandardSchemaV1.InferOutput<S>>, ...info });
}

export type Target<T> = string | EventDefinition<T>;

export function topicOf(target: Target<unknown>): string {
  return typeof target === 'string' ? target : target.topic;
}

export type Validated<T> = { value: T } | { error: ValidationError };

function toOutcome<T>(result: StandardSchemaV1.Result<T>, topic: string): Validated<T> {
  if (result.issues === undefined) return { value: result.value };
  const summary = result.issues
    .map((issue) => {
      const path = issue.path?.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
  return { error: new ValidationError(`payload for '${topic}' is invalid: ${summary}`, result.issues, { topic }) };
}

/** Validates a payload at once when the schema is synchronous (most are), else as a promise. */
export function check<T>(event: EventDefinition<T>, data: unknown, topic: string): Validated<T> | Promise<Validated<T>> {
  const result = event.schema['~standard'].validate(data);
  return result instanceof Promise ? result.then((settled) => toOutcome(settled, topic)) : toOutcome(result, topic);
}

/** Validates a payload; async schemas are awaited. */
export async function validate<T>(event: EventDefinition<T>, data: unknown, topic: string): Promise<Validated<T>> {
  return toOutcome(await event.schema['~standard'].validate(data), topic);
}

/** Validates without waiting; an async schema yields an error saying to use `publish`. */
export function validateNow<T>(event: EventDefinition<T>, data: unknown, topic: string): Validated<T> {
  const result = event.schema['~standard'].validate(data);
  if (result instanceof Promise) {
    return {
      error: new ValidationError(
        `the schema for '${topic}' validates asynchronously; writers validate synchronously, so use bus.publish`,
        [],
        { topic },
      ),
    };
  }
  return toOutcome(result, topic);
}
