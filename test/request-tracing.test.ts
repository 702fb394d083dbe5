// W3C trace context through request/reply with OpenTelemetry installed: the responder runs in
// a span continuing the requester's trace, and the reply carries that trace back, on the
// generic path (memory) and on NATS's native one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createBus } from '../src/create-bus.js';
import type { Driver } from '../src/core/driver.js';
import { memory } from '../src/drivers/memory/index.js';
import { nats } from '../src/drivers/nats/index.js';
import { NATS_URL, natsSkip } from './support/nats.js';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const tracer = trace.getTracer('test');

const cases: Array<[string, () => Driver, (() => Promise<string | false>)?]> = [
  ['memory', () => memory()],
  ['nats', () => nats({ servers: NATS_URL, mode: 'core' }), natsSkip],
];

for (const [name, driver, skip] of cases) {
  describe(`request/reply tracing on ${name}`, { skip: await skip?.() }, () => {
    it("continues the requester's trace in the responder and carries it back on the reply", async () => {
      const bus = createBus({ driver: driver() });
      const topic = `traced${process.pid}.${name}`;
      let seen: string | undefined;
      await bus.respond(topic, async ({ headers }) => {
        seen = headers.traceparent;
        return 'ok';
      });
      const [asked, reply] = await tracer.startActiveSpan('ask', async (span) => {
        const answer = await bus.request(topic, 1);
        span.end();
        return [span.spanContext(), answer] as const;
      });
      assert.match(seen ?? '', new RegExp(`^00-${asked.traceId}-${asked.spanId}-01$`));
      const [responding] = exporter.getFinishedSpans().filter((span) => span.name === `process ${topic}`);
      assert.equal(responding.spanContext().traceId, asked.traceId);
      assert.match(reply.headers.traceparent ?? '', new RegExp(`^00-${asked.traceId}-${responding.spanContext().spanId}-01$`));
      await bus.close();
    });
  });
}
