// Carries the message being handled across awaits, so what a handler publishes inherits
// its correlation-id and names it as the cause.

import { AsyncLocalStorage } from 'node:async_hooks';
import { HEADER, type Headers, type Message } from './message.js';

const handling = new AsyncLocalStorage<Message>();

export function runHandling<R>(message: Message, fn: (message: Message) => R): R {
  return handling.run(message, fn, message);
}

/** Adds correlation and causation headers when called from inside a handler. */
export function causalHeaders(headers: Headers | undefined): Headers | undefined {
  const parent = handling.getStore();
  if (parent === undefined) return headers;
  const result: Headers = { ...headers };
  result[HEADER.correlationId] ??= parent.headers[HEADER.correlationId] ?? parent.id;
  result[HEADER.causationId] ??= parent.id;
  return result;
}
