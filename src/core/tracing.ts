// The hook through which a bus carries trace context (W3C `traceparent`) from a publisher
// to the handlers of its message. Core only calls it; `createBus` fills it from
// OpenTelemetry when the application has @opentelemetry/api installed (src/tracing.ts).

import type { Headers, Message } from './message.js';

export interface Tracing {
  /** The headers for a message published now: `headers` plus the active trace context, if there is one. */
  inject(headers: Headers | undefined): Headers | undefined;
  /** Runs `handle` inside a span that continues the trace `message` carries. */
  handle<R>(message: Message, handle: () => R): R;
}
