// Carries the message being handled to what its handler publishes, so follow-up events
// inherit its correlation-id and name it as their cause.
//
// Async handlers run inside an AsyncLocalStorage scope, which follows every await. That
// scope makes Node track every promise in the process, so synchronous handlers (which
// cannot await) use a plain slot instead and leave the in-process fast path untouched.
// A non-async function that returns a promise chain gets the slot, so publishes it makes
// after its first tick carry no causation: declare such handlers `async`.

import { AsyncLocalStorage } from 'node:async_hooks';
import { HEADER, type Headers, type Message } from './message.js';

const handling = new AsyncLocalStorage<Message>();
let current: Message | undefined;

const AsyncFunction = (async () => {}).constructor;

export function isAsyncFunction(fn: Function): boolean {
  return fn instanceof AsyncFunction;
}

export function runHandling<R>(message: Message, handler: (message: Message) => R, isAsync: boolean): R {
  if (isAsync) return handling.run(message, handler, message);
  const previous = current;
  current = message;
  try {
    return handler(message);
  } finally {
    current = previous;
  }
}

/** Adds correlation and causation headers when called from inside a handler. */
export function causalHeaders(headers: Headers | undefined): Headers | undefined {
  const parent = current ?? handling.getStore();
  if (parent === undefined) return headers;
  const result: Headers = { ...headers };
  result[HEADER.correlationId] ??= parent.headers[HEADER.correlationId] ?? parent.id;
  result[HEADER.causationId] ??= parent.id;
  return result;
}
