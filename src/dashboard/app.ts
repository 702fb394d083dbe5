// The dashboard: the gateway's figures (GET /v1/stats, /v1/topics) polled, and the bus itself
// followed live over the gateway's WebSocket with omnibus/client, as any other client would.

import { createClient, type ClientSubscription, type OmnibusClient } from '../client/index.js';
import { getJson, token, Unauthorized, type PresenceEntry, type Stats, type TopicCount } from './api.js';
import { COLOURS, drawChart } from './chart.js';
import { byId, element, fillTable } from './dom.js';
import { Rates } from './rates.js';
import { Tail } from './tail.js';

const POLL_MS = 2_000;

const rates = new Rates();
const tail = new Tail(byId<HTMLOListElement>('tail'));
let client: OmnibusClient | undefined;
let following: ClientSubscription | undefined;
let published: TopicCount[] = [];

function setStatus(state: 'connecting' | 'open' | 'lost', text: string): void {
  const status = byId('status');
  status.dataset.state = state;
  status.textContent = text;
}

async function start(): Promise<void> {
  let stats: Stats;
  try {
    stats = await getJson<Stats>('/v1/stats');
  } catch (error) {
    if (error instanceof Unauthorized) return askForToken(token.get() === undefined ? '' : error.message);
    setStatus('lost', (error as Error).message);
    return;
  }
  byId('token-form').hidden = true;
  byId('main').hidden = false;
  byId('sign-out').hidden = token.get() === undefined;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  client = createClient({ url: `${scheme}//${location.host}${stats.gateway.path}`, token: token.get() });
  client.on('connectionLost', () => setStatus('lost', 'connection lost, reconnecting'));
  client.on('reconnected', () => setStatus('open', 'connected'));
  await client.ready();
  setStatus('open', 'connected');
  render(stats);
  if (stats.catalogue) void showCatalogue();
  await follow(byId<HTMLInputElement>('follow').value);
  setInterval(everySecond, 1_000);
  setInterval(() => void poll(), POLL_MS);
}

function askForToken(error: string): void {
  byId('main').hidden = true;
  byId('token-form').hidden = false;
  byId('token-error').textContent = error;
  setStatus('lost', 'not signed in');
}

/** Follows `pattern` instead of what was followed: the tail and the rates start over. */
async function follow(pattern: string): Promise<void> {
  const status = byId('follow-status');
  await following?.close();
  following = undefined;
  rates.reset();
  tail.clear();
  try {
    following = await client!.subscribe(pattern, (message) => {
      rates.count(message.topic);
      tail.add(message);
    });
    status.textContent = `following '${pattern}'`;
  } catch (error) {
    status.textContent = `cannot follow '${pattern}': ${(error as Error).message}`;
  }
}

function everySecond(): void {
  rates.tick();
  const drawn = drawChart(byId<HTMLCanvasElement>('chart'), rates);
  renderTopics(drawn);
}

async function poll(): Promise<void> {
  try {
    const [stats, topics] = await Promise.all([getJson<Stats>('/v1/stats'), getJson<{ topics: TopicCount[] }>('/v1/topics')]);
    published = topics.topics;
    render(stats);
    // Everyone this token may see: a token that may not read '>' gets no presence list.
    const present = await getJson<{ clients: PresenceEntry[] }>('/v1/presence?pattern=%3E').catch(() => ({ clients: [] }));
    fillTable(
      'presence',
      present.clients.map((c) => [c.name, c.transport, c.patterns.join(', '), new Date(c.since).toLocaleTimeString()]),
      'no client subscribed',
    );
  } catch (error) {
    if (error instanceof Unauthorized) location.reload();
  }
}

/** Topics seen live or published through this gateway, busiest first; charted ones get their colour. */
function renderTopics(drawn: string[]): void {
  const byTopic = new Map(published.map((entry) => [entry.topic, entry]));
  const topics = [...new Set([...rates.topics(), ...byTopic.keys()])].sort((a, b) => rates.perSecond(b) - rates.perSecond(a) || a.localeCompare(b));
  fillTable(
    'topics',
    topics.map((topic) => {
      const name = element('span', topic);
      const colour = drawn.indexOf(topic);
      if (colour > 0) name.prepend(swatch(COLOURS[colour]));
      const entry = byTopic.get(topic);
      return [name, Math.round(rates.perSecond(topic) * 10) / 10, rates.seen(topic), entry?.published ?? 0, entry === undefined ? '' : new Date(entry.lastPublished).toLocaleTimeString()];
    }),
    'no messages yet',
  );
}

function swatch(colour: string): HTMLElement {
  const node = element('span', undefined, 'swatch');
  node.style.background = colour;
  return node;
}

/** The catalogue's events, when the gateway has one: each channel with what the application does with it. */
async function showCatalogue(): Promise<void> {
  let document: { channels?: Record<string, { address: string; description?: string }>; operations?: Record<string, { action: string; channel: { $ref: string } }> };
  try {
    document = await getJson('/asyncapi.json');
  } catch {
    return; // the section stays hidden
  }
  const actions = new Map<string, Set<string>>();
  for (const { action, channel } of Object.values(document.operations ?? {})) {
    const id = channel.$ref.split('/').pop()!;
    actions.set(id, (actions.get(id) ?? new Set()).add(action));
  }
  const rows = Object.entries(document.channels ?? {}).map(([id, channel]) => [
    channel.address,
    channel.description ?? '',
    actions.get(id)?.has('send') ? 'yes' : '',
    actions.get(id)?.has('receive') ? 'yes' : '',
  ]);
  fillTable('events', rows, 'the catalogue lists no events');
  byId('events-card').hidden = false;
}

function render(stats: Stats): void {
  byId('drivers').textContent = `over ${stats.drivers.join(', ')}`;
  const { connections, streams, uptimeMs } = stats.gateway;
  byId('clients').textContent =
    uptimeMs === undefined ? 'connection figures are shown to operators' : `${connections} WebSocket connections, ${streams} SSE streams, up ${Math.round(uptimeMs / 1000)} s`;
  fillTable(
    'subscriptions',
    stats.subscriptions.map((s) => [s.pattern, s.group ?? '(fan-out)', s.lag ?? '', s.delivered, s.acked, s.retried, s.deadLettered]),
    'no subscriptions',
  );
  fillTable(
    'failures',
    stats.failures.map((f) => [new Date(f.time).toLocaleTimeString(), f.kind, f.topic ?? f.driver ?? '', f.message, f.deadLetter ?? '']),
    'none',
  );
}

byId<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token.set(byId<HTMLInputElement>('token').value.trim());
  void start();
});

byId('sign-out').addEventListener('click', () => {
  token.clear();
  location.reload();
});

byId<HTMLFormElement>('follow-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void follow(byId<HTMLInputElement>('follow').value.trim() || '>');
});

byId('pause').addEventListener('click', () => {
  tail.paused = !tail.paused;
  byId('pause').textContent = tail.paused ? 'Resume' : 'Pause';
});

byId<HTMLFormElement>('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const result = byId('publish-result');
  const field = (name: string) => String(form.get(name) ?? '').trim();
  try {
    const headers = field('headers') === '' ? undefined : (JSON.parse(field('headers')) as Record<string, string>);
    const text = field('payload');
    let data: unknown = text;
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON: sent as the text it is.
    }
    client!.publish(field('topic'), data, { key: field('key') || undefined, headers }).then(
      ({ id, seq }) => (result.textContent = `published ${id}${seq === undefined ? '' : ` at ${seq}`}`),
      (error: Error) => (result.textContent = `not published: ${error.message}`),
    );
  } catch (error) {
    result.textContent = `headers must be a JSON object of strings: ${(error as Error).message}`;
  }
});

void start();
