// The Bus facade: validates and encodes what is published, routes it to a driver, and
// runs every subscription through the shared delivery machinery.

import { BusEventEmitter, type BusEvents } from './bus-events.js';
import { checkCircuitBreaker, CircuitTally } from './circuit-breaker.js';
import { DriverState, type BusHealth } from './health.js';
import { decodePayload, encodePayload, jsonCodec, type Codec } from './codec.js';
import { causalHeaders } from './context.js';
import { combineCapabilities } from './capabilities.js';
import type { Capabilities, Deliver, Driver, From, WireMessage } from './driver.js';
import {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  errorMessage,
  OmnibusError,
  PayloadTooLargeError,
  PublishError,
} from './errors.js';
import { topicOf, validate, type EventDefinition, type Target } from './event.js';
import { GroupLags, type GroupLag, type LagOptions } from './lag.js';
import { silentLogger, type Logger } from './logger.js';
import { HEADER, type Headers, type Message, type PublishOptions, type PublishResult, type StoredMessage } from './message.js';
import { Reader, type ReaderOptions } from './reader.js';
import type { RequestOptions } from './request-protocol.js';
import { RequestReply, type OpenSubscription, type RespondOptions, type Responder } from './request-reply.js';
import { Router, type DriverEntry, type Route } from './router.js';
import { addCounters, counters, statsKey, type BusStats, type Counters } from './stats.js';
import { MessageStream, type StreamOptions } from './stream.js';
import { deadLetterLoop } from './failure-policy.js';
import {
  CoreSubscription,
  DEFAULT_ACK_DEADLINE_MS,
  type Handler,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHost,
} from './subscription.js';
import { assertPattern, assertTopic } from './topic.js';
import type { Tracing } from './tracing.js';
import { uuidv7 } from './uuid.js';
import { Writer } from './writer.js';

export interface BusOptions {
  /** Drivers by name. A bus with one driver needs no routes. */
  drivers: Record<string, Driver>;
  /** Which topics go to which driver; the first matching route wins. */
  routes?: Route[];
  /** Encodes payloads for drivers that carry bytes. Default JSON. */
  codec?: Codec;
  /** How long `close()` waits for running handlers. Default 10 s. */
  closeTimeoutMs?: number;
  /** Where problems nobody listens for are reported (pino-compatible). Default: nowhere; a library stays quiet unless given one. */
  logger?: Logger;
  /** Carries trace context from publishers to handlers. `createBus` sets it when @opentelemetry/api is installed. */
  tracing?: Tracing;
}

export interface PublishItem<T = unknown> extends PublishOptions {
  topic: Target<T>;
  data: T;
}

const NO_HEADERS: Headers = Object.freeze({}) as Headers;
const NO_BODY = new Uint8Array(0);

export class Bus {
  /** This bus's own id: the `omnibus-origin` header of the copies it mirrors to brokers (see `Route.mirror`). */
  readonly id = uuidv7();
  private readonly router: Router;
  private readonly codec: Codec;
  private readonly logger: Logger;
  private readonly events = new BusEventEmitter();
  private readonly subscriptions = new Set<CoreSubscription>();
  private readonly patternCounters = new Map<string, Counters>();
  private readonly circuits = new Map<string, CircuitTally>();
  private readonly groupLags = new GroupLags();
  private readonly closeTimeoutMs: number;
  private readonly tracing: Tracing | undefined;
  private closing: Promise<void> | undefined;
  private readonly host: SubscriptionHost;
  private readonly driverStates: DriverState[] = [];
  private readonly requests: RequestReply;

  constructor(options: BusOptions) {
    this.router = new Router(options.drivers, options.routes);
    this.codec = options.codec ?? jsonCodec;
    this.logger = options.logger ?? silentLogger;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.tracing = options.tracing;
    for (const entry of this.router.entries) {
      const state = new DriverState(entry.name, entry.driver);
      this.driverStates.push(state);
      entry.driver.observe?.((event) => {
        state.observe(event);
        if (event.type === 'error') this.reportError(event.error, undefined, event.driver);
        else this.events.emit(event.type, event);
      });
    }
    this.host = {
      codec: this.codec,
      events: this.events,
      closeTimeoutMs: this.closeTimeoutMs,
      tracing: this.tracing,
      deadLetter: (topic, original, headers) => this.deadLetter(topic, original, headers),
      reportError: (error, topic) => this.reportError(error, topic),
      driverOf: (topic) => this.router.driverFor(topic).driver.name,
      forget: (subscription) => {
        this.subscriptions.delete(subscription);
        if (subscription.group !== undefined) this.groupLags.closed(statsKey(subscription.pattern, subscription.group), subscription);
      },
    };
    this.requests = new RequestReply({
      publish: (topic, data, options) => this.publish(topic, data, options),
      subscribe: (pattern, handler, options, open) => this.subscribeVia(pattern, handler, options, open),
      driverFor: (topic) => this.router.driverFor(topic).driver,
      wire: (topic, data, options) => this.build(topic, data, options),
      decode: (wire) => ('value' in wire ? wire.value : decodePayload(this.codec, wire.body, wire.headers[HEADER.contentType], wire.topic)),
    });
  }

  /** Listens to bus events: `error`, `deliveryFailed`, `connectionLost`, `reconnected`, `circuitOpen`, `circuitClosed`. */
  on<K extends keyof BusEvents>(type: K, listener: (event: BusEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  /**
   * Hears bus events as `on` does, without taking them over: errors and failed writes nobody
   * listens to with `on` still go to the logger. For tools that watch a bus they do not own (the gateway).
   */
  observe<K extends keyof BusEvents>(type: K, listener: (event: BusEvents[K]) => void): () => void {
    return this.events.observe(type, listener);
  }

  /** The drivers behind this bus, by name, with what each can do. */
  get drivers(): ReadonlyArray<Pick<DriverEntry, 'name' | 'driver'>> {
    return this.router.entries;
  }

  /** What every driver of this bus can do (see `Capabilities`). */
  get capabilities(): Capabilities {
    return combineCapabilities(this.router.entries.map((entry) => entry.driver.capabilities));
  }

  /** Resolves once the driver has accepted the message (for durable drivers: persisted). */
  publish<T>(target: Target<T>, data: T, options?: PublishOptions): Promise<PublishResult> {
    if (this.closing !== undefined) {
      return Promise.reject(new ClosedError('publish on a closed bus', { topic: topicOf(target) }));
    }
    // Plain topics take a synchronous path: no schema to await, one promise per publish.
    if (typeof target !== 'string') return this.publishEvent(target, data, options);
    let wire: WireMessage;
    try {
      wire = this.build(target, data, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.send(wire.topic, [wire], wire);
  }

  /** Publishes several messages, one batch per driver; resolves when all were accepted. */
  async publishMany(items: ReadonlyArray<PublishItem>): Promise<PublishResult[]> {
    if (this.closing !== undefined) throw new ClosedError('publishMany on a closed bus');
    const wires: WireMessage[] = [];
    const batches = new Map<DriverEntry, WireMessage[]>();
    for (const item of items) {
      const [topic, data] = typeof item.topic === 'string' ? [item.topic, item.data] : await this.validated(item.topic, item.data);
      const wire = this.build(topic, data, item);
      wires.push(wire);
      const entry = this.router.driverFor(wire.topic);
      let batch = batches.get(entry);
      if (batch === undefined) batches.set(entry, (batch = []));
      batch.push(wire);
    }
    await Promise.all([...batches.values()].map((batch) => this.send(batch[0].topic, batch)));
    return wires.map(resultOf);
  }

  subscribe<T = unknown>(target: Target<T>, handler: Handler<T>, options: SubscribeOptions = {}): Promise<Subscription> {
    return this.subscribeVia(target, handler, options);
  }

  /**
   * Sends a request and resolves with the reply (its `data` is what the responder returned).
   * Fails with `TimeoutError` after `timeoutMs` (default 5 s), `NoRespondersError` where the
   * broker can tell nobody listens (NATS), `RemoteError` when the responder threw.
   */
  request<R = unknown, T = unknown>(target: Target<T>, data: T, options?: RequestOptions): Promise<StoredMessage<R>> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('request on a closed bus', { topic: topicOf(target) }));
    return this.requests.request<T, R>(target, data, options);
  }

  /** Answers requests on `target` with `responder`'s return value; a throw reaches the requester as `RemoteError`. */
  respond<T = unknown, R = unknown>(target: Target<T>, responder: Responder<T, R>, options?: RespondOptions): Promise<Subscription> {
    return this.requests.respond(target, responder, options);
  }

  /** `open` opens each driver's side: `driver.subscribe` unless said otherwise (request/reply's responders). */
  private async subscribeVia<T>(
    target: Target<T>,
    handler: Handler<T>,
    options: SubscribeOptions = {},
    open: OpenSubscription = (driver, spec, deliver) => driver.subscribe(spec, deliver),
  ): Promise<Subscription> {
    if (this.closing !== undefined) throw new ClosedError('subscribe on a closed bus', { topic: topicOf(target) });
    const pattern = topicOf(target);
    assertPattern(pattern);
    if (options.deadLetter !== undefined) checkDeadLetter(pattern, options.deadLetter);
    if (options.circuitBreaker !== undefined) checkCircuitBreaker(options.circuitBreaker, pattern);
    const { entries, skipOwn } = this.router.listenersFor(pattern, options.group !== undefined);
    for (const { driver } of entries) checkSupported(driver, pattern, options);
    const key = statsKey(pattern, options.group);
    let patternCounters = this.patternCounters.get(key);
    if (patternCounters === undefined) this.patternCounters.set(key, (patternCounters = counters()));
    let circuit: CircuitTally | undefined;
    if (options.circuitBreaker !== undefined) {
      circuit = this.circuits.get(key);
      if (circuit === undefined) this.circuits.set(key, (circuit = new CircuitTally()));
    }
    const event = typeof target === 'string' ? undefined : (target as EventDefinition);
    const subscription = new CoreSubscription(pattern, handler as Handler, options, this.host, patternCounters, circuit, event);
    this.subscriptions.add(subscription);
    const spec = { pattern, group: options.group, from: options.from, ackDeadlineMs: options.ackDeadlineMs ?? DEFAULT_ACK_DEADLINE_MS };
    for (const entry of entries) {
      const { name, driver } = entry;
      const deliver = skipOwn.has(entry) ? this.skippingOwn(subscription.deliver) : subscription.deliver;
      try {
        subscription.driverSubscriptions.push(await open(driver, spec, deliver));
      } catch (error) {
        await subscription.close();
        if (error instanceof OmnibusError) throw error;
        // A failure the driver did not classify: most likely the broker, so worth retrying.
        throw new ConnectionError(`driver '${name}' could not subscribe to '${pattern}': ${errorMessage(error)}`, { topic: pattern, cause: error });
      }
    }
    // Only once the broker holds the group, so a refused subscribe leaves no failing lag behind.
    if (options.group !== undefined) this.groupLags.add(key, pattern, options.group, entries.map((entry) => entry.driver), subscription);
    return subscription;
  }

  /** Hands on what a mirror brings, except this bus's own copies: its subscribers had those from the route's driver. */
  private skippingOwn(deliver: Deliver): Deliver {
    return (delivery) => (delivery.message.headers[HEADER.origin] === this.id ? delivery.ack() : deliver(delivery));
  }

  /**
   * Retained messages matching `pattern`, oldest first, from `from` (inclusive; default
   * 'earliest') up to the newest stored when called: a snapshot, which new messages cannot
   * prolong. For drivers that can read history (`Driver.read`); stop early with `break`. A
   * payload the codec cannot decode comes as its bytes.
   */
  async *read(pattern: string, options: { from?: Exclude<From, 'latest'> } = {}): AsyncGenerator<StoredMessage> {
    if (this.closing !== undefined) throw new ClosedError('read on a closed bus', { topic: pattern });
    assertPattern(pattern);
    const entries = this.router.driversFor(pattern);
    if (entries.length > 1) {
      throw new ConfigurationError(
        `'${pattern}' spans drivers ${entries.map((entry) => entry.name).join(', ')}, whose positions cannot be merged; read a pattern that routes to one`,
        { topic: pattern },
      );
    }
    const { driver } = entries[0];
    if (driver.read === undefined) {
      throw new ConfigurationError(`driver '${driver.name}' cannot read its history; subscribe with 'from' instead`, { topic: pattern });
    }
    for await (const wire of driver.read({ pattern, from: options.from ?? 'earliest' })) {
      const { id, topic, headers, key, time, ttlMs, seq } = wire;
      yield { id, topic, data: 'value' in wire ? wire.value : this.decodedOrBytes(wire), headers, key, time, ttlMs, seq };
    }
  }

  /** A payload the codec cannot decode is history all the same: it is read as its bytes, so a reader can step past it. */
  private decodedOrBytes(wire: WireMessage): unknown {
    try {
      return decodePayload(this.codec, wire.body, wire.headers[HEADER.contentType], wire.topic);
    } catch {
      return wire.body;
    }
  }

  /** An async iterator of messages; settle each with `ack()`. Ends when closed. */
  stream<T = unknown>(target: Target<T>, options: StreamOptions = {}): MessageStream<T> {
    return new MessageStream<T>((handler, subscribeOptions) => this.subscribe(target, handler, subscribeOptions), options);
  }

  /** Per-frame reading: `read()` returns everything since the last read; subscribes on first use. */
  reader<T = unknown>(target: Target<T>, options: ReaderOptions = {}): Reader<T> {
    return new Reader<T>((handler, subscribeOptions) => this.subscribe(target, handler, subscribeOptions), options);
  }

  /** Per-frame writing: `write()` validates synchronously and returns a result instead of throwing. */
  writer<T>(target: Target<T>): Writer<T> {
    return new Writer<T>(target, (topic, data, options) => this.publishValidated(topic, data, options), (error, topic, id) => {
      const driver = this.router.driverFor(topic).driver.name;
      if (!this.events.has('deliveryFailed')) this.reportError(error, topic, driver);
      this.events.emit('deliveryFailed', { topic, id, driver, error, attempts: 1 });
    });
  }

  /** Per driver: connected or not, since when, and the last connection error. */
  async health(): Promise<BusHealth> {
    const drivers = await Promise.all(this.driverStates.map((state) => state.report()));
    return { ok: drivers.every((driver) => driver.connected), drivers };
  }

  /**
   * Asks the drivers how far behind each group this bus subscribed is (see `GroupLag`), also
   * groups whose subscriptions have closed. Groups on drivers without `Driver.lag` are left out; a
   * driver that fails or exceeds `timeoutMs` gives its group `lag: undefined` and reports an
   * `error` event. `stats().lag` keeps the answer.
   */
  lag(options: LagOptions = {}): Promise<GroupLag[]> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('lag on a closed bus'));
    return this.groupLags.fetch(options, (error, pattern) => this.reportError(error, pattern));
  }

  stats(): BusStats {
    const byDriver: BusStats['byDriver'] = {};
    const byPattern: BusStats['byPattern'] = {};
    const total = counters();
    let published = 0;
    for (const entry of this.router.entries) {
      byDriver[entry.name] = { published: entry.published };
      published += entry.published;
    }
    for (const [pattern, value] of this.patternCounters) {
      const circuit = this.circuits.get(pattern);
      byPattern[pattern] = circuit === undefined ? { ...value } : { ...value, circuit: circuit.report() };
      addCounters(total, value);
    }
    return { published, ...total, byDriver, byPattern, lag: this.groupLags.lastFetched() };
  }

  /** Stops intake, waits up to `closeTimeoutMs` for running handlers, then closes the drivers. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.requests.close();
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
      await Promise.all(this.router.entries.map((entry) => entry.driver.close()));
    })();
    return this.closing;
  }

  private async publishEvent(event: EventDefinition, data: unknown, options?: PublishOptions): Promise<PublishResult> {
    const wire = this.build(...(await this.validated(event, data)), options);
    await this.send(wire.topic, [wire]);
    return resultOf(wire);
  }

  /** The topic and the payload as the event's schema outputs it (unchanged for plain topics). */
  private async validated(target: Target<unknown>, data: unknown): Promise<[string, unknown]> {
    if (typeof target === 'string') return [target, data];
    const outcome = await validate(target, data, target.topic);
    if ('error' in outcome) throw outcome.error;
    return [target.topic, outcome.value];
  }

  private build(topic: string, data: unknown, options: PublishOptions | undefined): WireMessage {
    assertTopic(topic);
    if (options !== undefined) checkPublishOptions(topic, options);
    const { driver } = this.router.driverFor(topic);
    const mirrors = this.router.mirrors ? this.router.mirrorsFor(topic) : undefined;
    const caused = causalHeaders(options?.headers);
    const headers = this.tracing === undefined ? caused : this.tracing.inject(caused);
    const chosen = options?.id;
    const wire: WireMessage = {
      id: chosen ?? uuidv7(),
      newId: chosen === undefined ? true : undefined,
      topic,
      headers: headers ?? NO_HEADERS,
      key: options?.key,
      time: Date.now(),
      ttlMs: options?.ttlMs,
      seq: undefined,
      body: NO_BODY,
    };
    if (options !== undefined && (options.delayMs !== undefined || options.deliverAt !== undefined)) delay(wire, driver, options, mirrors);
    const limit = driver.capabilities.maxPayloadBytes;
    if (mirrors !== undefined && mirrors.length > 0) {
      // Mirrored: encoded once, for the mirrors' copies, whatever the route's own driver carries.
      const { body, contentType } = encodePayload(this.codec, data, topic);
      for (const entry of [driver, ...mirrors.map((mirror) => mirror.driver)]) checkSize(body.length, entry.capabilities.maxPayloadBytes, topic);
      wire.body = body;
      wire.headers = { ...headers, [HEADER.contentType]: contentType };
      if (driver.carriesValues) wire.value = data;
    } else if (driver.carriesValues) {
      wire.value = data;
      if (limit !== Infinity) checkSize(encodePayload(this.codec, data, topic).body.length, limit, topic);
    } else {
      const { body, contentType } = encodePayload(this.codec, data, topic);
      checkSize(body.length, limit, topic);
      wire.body = body;
      wire.headers = { ...headers, [HEADER.contentType]: contentType };
    }
    return wire;
  }

  /**
   * Hands a batch (all routed to one driver) over, wrapping foreign errors in PublishError.
   * With `single`, resolves to its result, saving a promise on the hot path.
   */
  private send(topic: string, batch: WireMessage[]): Promise<void>;
  private send(topic: string, batch: WireMessage[], single: WireMessage): Promise<PublishResult>;
  private send(topic: string, batch: WireMessage[], single?: WireMessage): Promise<PublishResult | void> {
    const entry = this.router.driverFor(topic);
    const mirrored = this.router.mirrors ? this.mirror(batch) : undefined;
    const stored = entry.driver.publish(batch).then(
      () => {
        entry.published += batch.length;
        return single === undefined ? undefined : resultOf(single);
      },
      (error: unknown) => {
        if (error instanceof OmnibusError) throw error;
        throw new PublishError(`driver '${entry.name}' did not accept a message on '${topic}': ${errorMessage(error)}`, {
          topic,
          cause: error,
        });
      },
    );
    return mirrored === undefined ? stored : Promise.all([stored, mirrored]).then(([result]) => result);
  }

  /**
   * Copies the batch's mirrored messages to their mirrors, marked with this bus's id. Never
   * rejects: a mirror that fails reaches `deliveryFailed`, as a write the driver refused
   * later does, and leaves the route's own delivery standing.
   */
  private mirror(batch: WireMessage[]): Promise<unknown> | undefined {
    let copies: Map<DriverEntry, WireMessage[]> | undefined;
    for (const wire of batch) {
      for (const mirror of this.router.mirrorsFor(wire.topic)) {
        const { id, topic, key, time, ttlMs, deliverAt, body } = wire;
        const copy: WireMessage = { id, topic, headers: { ...wire.headers, [HEADER.origin]: this.id }, key, time, ttlMs, body };
        if (deliverAt !== undefined) copy.deliverAt = deliverAt;
        copies ??= new Map();
        const list = copies.get(mirror);
        if (list === undefined) copies.set(mirror, [copy]);
        else list.push(copy);
      }
    }
    if (copies === undefined) return undefined;
    return Promise.all(
      [...copies].map(([mirror, list]) =>
        mirror.driver.publish(list).then(
          () => void (mirror.published += list.length),
          (error: unknown) => {
            for (const { topic, id } of list) {
              if (!this.events.has('deliveryFailed')) this.reportError(error, topic, mirror.driver.name);
              this.events.emit('deliveryFailed', { topic, id, driver: mirror.driver.name, error, attempts: 1 });
            }
          },
        ),
      ),
    );
  }

  // Not async: bad input throws at the call, so `write()` can return it as a result.
  private publishValidated(topic: string, data: unknown, options: PublishOptions): Promise<PublishResult> {
    if (this.closing !== undefined) throw new ClosedError('write on a closed bus', { topic });
    const wire = this.build(topic, data, options);
    return this.send(topic, [wire], wire);
  }

  /** Republishes a failed message's payload untouched, with headers naming what went wrong. */
  private async deadLetter(topic: string, original: WireMessage, extra: Record<string, string>): Promise<void> {
    const headers = { ...original.headers, ...extra };
    if ('value' in original) return this.send(topic, [this.build(topic, original.value, { headers, key: original.key })]);
    const wire: WireMessage = { id: uuidv7(), topic, headers, key: original.key, time: Date.now(), body: original.body };
    if (this.router.driverFor(topic).driver.carriesValues) wire.value = original.body;
    await this.send(topic, [wire]);
  }

  private reportError(error: unknown, topic?: string, driver?: string): void {
    if (!this.events.has('error')) this.logger.error({ err: error, topic, driver }, 'omnibus error with no listener for bus "error" events');
    this.events.emit('error', { error, topic, driver });
  }
}

function resultOf(wire: WireMessage): PublishResult {
  return wire.duplicate === true ? { id: wire.id, seq: wire.seq, duplicate: true } : { id: wire.id, seq: wire.seq };
}

function checkSize(bytes: number, limit: number, topic: string): void {
  if (bytes > limit) throw new PayloadTooLargeError(bytes, limit, { topic });
}

function checkPublishOptions(topic: string, options: PublishOptions): void {
  const { id, key, ttlMs, headers, delayMs, deliverAt } = options;
  let problem: string | undefined;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0)) problem = 'id must be a non-empty string';
  else if (key !== undefined && typeof key !== 'string') problem = 'key must be a string';
  else if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) problem = 'ttlMs must be a positive number of milliseconds';
  else if (headers !== undefined && Object.values(headers).some((value) => typeof value !== 'string')) problem = 'header values must be strings';
  else if (delayMs !== undefined && deliverAt !== undefined) problem = 'give delayMs or deliverAt, not both';
  else if (delayMs !== undefined && !(typeof delayMs === 'number' && Number.isFinite(delayMs) && delayMs >= 0)) {
    problem = `delayMs must be a non-negative number of milliseconds, not ${String(delayMs)}`;
  } else if (deliverAt !== undefined && !(deliverAt instanceof Date && !Number.isNaN(deliverAt.getTime()))) {
    problem = `deliverAt must be a valid Date, not ${deliverAt instanceof Date ? 'an invalid date' : typeof deliverAt}`;
  }
  if (problem !== undefined) throw new ConfigurationError(`publish to '${topic}': ${problem}`, { topic });
}

/** Sets the due time of a message published with `delayMs` or `deliverAt` (already checked), on a driver that can hold it. */
function delay(wire: WireMessage, driver: Driver, options: PublishOptions, mirrors: DriverEntry[] = []): void {
  for (const each of [driver, ...mirrors.map((mirror) => mirror.driver)]) {
    if (each.capabilities.delayedDelivery) continue;
    const option = options.delayMs !== undefined ? 'delayMs' : 'deliverAt';
    throw new ConfigurationError(
      `${each === driver ? 'driver' : 'mirror'} '${each.name}' cannot delay delivery (no delayedDelivery capability); publish to '${wire.topic}' without ${option}, or route it to a driver that can`,
      { topic: wire.topic },
    );
  }
  const due = options.delayMs !== undefined ? Math.ceil(wire.time + options.delayMs) : options.deliverAt!.getTime();
  // A due time already past is an ordinary publish; one ahead is the message's publish time too.
  if (due > wire.time) wire.time = wire.deliverAt = due;
}

function checkDeadLetter(pattern: string, deadLetter: string): void {
  assertTopic(deadLetter);
  const loop = deadLetterLoop(pattern, deadLetter);
  if (loop !== undefined) throw new ConfigurationError(loop, { topic: pattern });
}

function checkSupported(driver: Driver, pattern: string, options: SubscribeOptions): void {
  const { capabilities } = driver;
  if (options.group !== undefined && !capabilities.groups) {
    throw new ConfigurationError(`driver '${driver.name}' has no consumer groups; subscribe to '${pattern}' without 'group'`, {
      topic: pattern,
    });
  }
  if (options.from !== undefined && options.from !== 'latest' && !capabilities.replay) {
    throw new ConfigurationError(
      `driver '${driver.name}' keeps no history, so it cannot start '${pattern}' from ${JSON.stringify(options.from)}; use from: 'latest'`,
      { topic: pattern },
    );
  }
}

export type { Message };
