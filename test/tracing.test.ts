// W3C trace context through the bus with OpenTelemetry installed: a publish inside a span
// carries `traceparent`, handlers run in consumer spans that continue it (also across a
// real broker), and failures are recorded on the span.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createBus } from '../src/create-bus.js';
import type { Message } from '../src/core/message.js';
import { redis } from '../src/drivers/redis/index.js';
import { eventually } from '../src/testing/wait.js';
import { deleteKeys, REDIS_URL, redisSkip } from './support/redis.js';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const tracer = trace.getTracer('test');

const spans = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);

describe('tracing with OpenTelemetry', () => {
  it('continues the publisher’s trace in the handler, and on through what the handler publishes', async () => {
    const bus = createBus();
    const received: Message[] = [];
    await bus.subscribe('orders.placed', async (message) => {
      received.push(message);
      await bus.publish('orders.billed', { id: 1 });
    });
    await bus.subscribe('orders.billed', (message) => void received.push(message));
    const checkout = await tracer.startActiveSpan('checkout', async (span) => {
      await bus.publish('orders.placed', { id: 1 });
      span.end();
      return span.spanContext();
    });
    await eventually(() => spans('process orders.billed').length === 1, 'both handlers');

    assert.match(received[0].headers.traceparent ?? '', new RegExp(`^00-${checkout.traceId}-${checkout.spanId}-01$`));
    const [placed] = spans('process orders.placed');
    const [billed] = spans('process orders.billed');
    assert.equal(placed.kind, SpanKind.CONSUMER);
    assert.equal(placed.spanContext().traceId, checkout.traceId);
    assert.equal(placed.parentSpanContext?.spanId, checkout.spanId);
    assert.equal(placed.attributes['messaging.destination.name'], 'orders.placed');
    assert.equal(placed.attributes['messaging.message.id'], received[0].id);
    assert.equal(billed.spanContext().traceId, checkout.traceId);
    assert.equal(billed.parentSpanContext?.spanId, placed.spanContext().spanId, 'the follow-up is a child of the handler that published it');
    await bus.close();
  });

  it('records a failing handler on its span, and the retry gets a span of its own', async () => {
    const bus = createBus();
    let attempts = 0;
    await bus.subscribe('payments.due', () => {
      if (++attempts === 1) throw new Error('card declined');
    }, { backoff: { initialMs: 1, maxMs: 1 } });
    await tracer.startActiveSpan('invoice', async (span) => {
      await bus.publish('payments.due', { id: 2 });
      span.end();
    });
    await eventually(() => spans('process payments.due').length === 2, 'the attempt and its retry');
    const [failed, retried] = spans('process payments.due');
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.status.message, 'card declined');
    assert.equal(failed.events[0]?.name, 'exception');
    assert.equal(retried.status.code, SpanStatusCode.UNSET);
    assert.equal(retried.spanContext().traceId, failed.spanContext().traceId);
    await bus.close();
  });

  it('adds nothing to a message published outside any span', async () => {
    const bus = createBus();
    const received: Message[] = [];
    await bus.subscribe('quiet.t', (message) => void received.push(message));
    const before = exporter.getFinishedSpans().length;
    await bus.publish('quiet.t', 1);
    await eventually(() => received.length === 1, 'the message');
    assert.equal(received[0].headers.traceparent, undefined);
    assert.equal(exporter.getFinishedSpans().length, before);
    await bus.close();
  });

  it('is off for a bus created with tracing: undefined', async () => {
    const bus = createBus({ tracing: undefined });
    const received: Message[] = [];
    await bus.subscribe('untraced.t', (message) => void received.push(message));
    await tracer.startActiveSpan('outer', async (span) => {
      await bus.publish('untraced.t', 1);
      span.end();
    });
    await eventually(() => received.length === 1, 'the message');
    assert.equal(received[0].headers.traceparent, undefined);
    await bus.close();
  });
});

const skip = await redisSkip();

describe('tracing across Redis', { skip }, () => {
  const keyPrefix = `omnibus-trace-${randomUUID().slice(0, 8)}:`;
  after(() => deleteKeys(keyPrefix));

  it('carries traceparent through the stream to a subscriber on another bus', async () => {
    const publisher = createBus({ driver: redis({ url: REDIS_URL, keyPrefix }) });
    const subscriber = createBus({ driver: redis({ url: REDIS_URL, keyPrefix }) });
    await subscriber.subscribe('shipments.sent', () => {}, { group: 'mail' });
    const sent = await tracer.startActiveSpan('ship', async (span) => {
      await publisher.publish('shipments.sent', { id: 3 });
      span.end();
      return span.spanContext();
    });
    await eventually(() => spans('process shipments.sent').length === 1, 'the delivery');
    const [processed] = spans('process shipments.sent');
    assert.equal(processed.spanContext().traceId, sent.traceId);
    assert.equal(processed.parentSpanContext?.spanId, sent.spanId);
    await Promise.all([publisher.close(), subscriber.close()]);
  });
});
