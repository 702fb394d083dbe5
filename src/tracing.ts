// OpenTelemetry behind the bus's tracing hook, when the application has @opentelemetry/api
// installed: a publish made inside a span carries that span's context in `traceparent`
// (and `tracestate`), through any broker, and a handler of such a message runs inside a
// consumer span that continues it, so what it publishes carries the trace on. Without an
// active span on publish, or a `traceparent` on delivery, nothing is added.

import type * as OpenTelemetry from '@opentelemetry/api';
import type { Headers } from './core/message.js';
import type { Tracing } from './core/tracing.js';

type Api = typeof OpenTelemetry;

export function openTelemetryTracing(api: Api): Tracing {
  const tracer = api.trace.getTracer('omnibus');
  const failed = (span: OpenTelemetry.Span, error: unknown) => {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    span.end();
  };
  return {
    inject(headers) {
      const active = api.context.active();
      if (api.trace.getSpan(active) === undefined) return headers;
      const carrier: Headers = { ...headers };
      api.propagation.inject(active, carrier);
      return carrier;
    },
    handle(message, handle) {
      const parent = api.propagation.extract(api.ROOT_CONTEXT, message.headers);
      const span = tracer.startSpan(
        `process ${message.topic}`,
        {
          kind: api.SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'omnibus',
            'messaging.operation.type': 'process',
            'messaging.destination.name': message.topic,
            'messaging.message.id': message.id,
          },
        },
        parent,
      );
      let result: ReturnType<typeof handle>;
      try {
        result = api.context.with(api.trace.setSpan(parent, span), handle);
      } catch (error) {
        failed(span, error);
        throw error;
      }
      if (!(result instanceof Promise)) {
        span.end();
        return result;
      }
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          failed(span, error);
          throw error;
        },
      ) as typeof result;
    },
  };
}

/** The tracing `createBus` gives every bus: OpenTelemetry's if the application has it installed. */
export const installedTracing: Tracing | undefined = await import('@opentelemetry/api').then(
  (api) => openTelemetryTracing(api),
  () => undefined,
);
