// The MQTT driver against the local Mosquitto: interop with mosquitto_pub and mosquitto_sub
// both ways, the MQTT 5 properties it writes, topics the bus cannot name, group sessions
// resumed under a stable client id, and configuration.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createDriver } from '../../src/config/index.js';
import { Bus } from '../../src/core/bus.js';
import { ConfigurationError, PublishError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { mqtt, type MqttOptions } from '../../src/drivers/mqtt/index.js';
import { eventually } from '../../src/testing/wait.js';
import { MQTT_URL, mqttSkip, run } from '../support/mqtt.js';

const skip = await mqttSkip();
const id = randomUUID().slice(0, 8);
let roots = 0;
/** A topic root no other test or run uses. */
const fresh = () => `mq${id}x${roots++}`;
const { port } = new URL(MQTT_URL);

const buses: Bus[] = [];
function busOver(options: MqttOptions = {}): Bus {
  const bus = new Bus({ drivers: { mqtt: mqtt({ url: MQTT_URL, sessionExpirySeconds: 60, ...options }) } });
  buses.push(bus);
  return bus;
}

function collect() {
  const messages: Message[] = [];
  return { messages, handler: (message: Message) => void messages.push(message) };
}

/** `mosquitto_sub` for `count` messages, resolved once the broker confirmed its subscription; `output` is what it printed. */
async function mosquittoSub(topic: string, count: number, format: string): Promise<{ output: Promise<string> }> {
  // Line-buffered, so its debug line for the SUBACK arrives when it is printed; -W ends it
  // after 60 s should a failing test never send it all, so no process outlives the run.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-p', port, '-V', 'mqttv5', '-q', '1', '-t', topic, '-C', String(count), '-W', '60', '-d', '-F', format]);
  let text = '';
  child.stdout.on('data', (chunk) => (text += chunk));
  const output = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => resolve(text));
  });
  await eventually(() => text.includes('SUBACK'), 'mosquitto_sub to be subscribed');
  return { output: output.then((all) => all.split('\n').filter((line) => line.startsWith('>')).join('\n')) };
}

describe('mqtt driver', { skip }, () => {
  after(() => Promise.all(buses.map((bus) => bus.close())));

  it('declares what MQTT does: groups and wildcards, no replay, de-duplication or delays', () => {
    const { capabilities } = mqtt();
    assert.deepEqual(
      [capabilities.persistent, capabilities.groups, capabilities.replay, capabilities.dedupe, capabilities.nativeWildcards, capabilities.delayedDelivery, capabilities.ordering],
      [true, true, false, false, true, false, 'key'],
    );
  });

  it('a mosquitto_pub message reaches a subscriber on the dotted topic as JSON data', async () => {
    const root = fresh();
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.orders.created`, handler);
    await run('mosquitto_pub', ['-p', port, '-t', `${root}/orders/created`, '-m', '{"a":1}']);
    await eventually(() => messages.length === 1, 'the mosquitto_pub message');
    assert.deepEqual(messages[0].data, { a: 1 });
    assert.equal(messages[0].topic, `${root}.orders.created`);
    assert.equal(messages[0].attempt, 1);
    assert.match(messages[0].id, /^[0-9a-f-]{36}$/);
  });

  it('an Omnibus publish reaches mosquitto_sub with its payload, content type and user properties', async () => {
    const root = fresh();
    const sub = await mosquittoSub(`${root}/orders/+`, 1, '>%t %C %P %p');
    await busOver().publish(`${root}.orders.created`, { a: 1 }, { id: 'order-1', key: 'customer-7', headers: { region: 'eu' } });
    const line = await sub.output;
    assert.match(line, new RegExp(`^>${root}/orders/created application/json `));
    assert.match(line, /region:eu/);
    assert.match(line, /omnibus-id:order-1/);
    assert.match(line, /omnibus-key:customer-7/);
    assert.ok(line.endsWith(' {"a":1}'), line);
  });

  it('a message on an MQTT topic no Omnibus topic names is reported, not delivered', async () => {
    const root = fresh();
    const bus = busOver();
    const errors: unknown[] = [];
    bus.on('error', (event) => void errors.push(event.error));
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.>`, handler);
    await run('mosquitto_pub', ['-p', port, '-t', `${root}/has space`, '-m', '1']);
    await run('mosquitto_pub', ['-p', port, '-t', `${root}/fine`, '-m', '2']);
    await eventually(() => messages.length === 1 && errors.length === 1, 'the good message and one error');
    assert.equal(messages[0].topic, `${root}.fine`);
    assert.ok(errors[0] instanceof PublishError);
    assert.match((errors[0] as Error).message, /has space/);
  });

  it("'>' does not match its parent topic, though MQTT's '#' does", async () => {
    const root = fresh();
    const bus = busOver();
    const { messages, handler } = collect();
    await bus.subscribe(`${root}.a.>`, handler);
    await run('mosquitto_pub', ['-p', port, '-t', `${root}/a`, '-m', '"parent"']);
    await run('mosquitto_pub', ['-p', port, '-t', `${root}/a/b`, '-m', '"child"']);
    await eventually(() => messages.length >= 1, 'the child message');
    await bus.publish(`${root}.a.c`, 'after');
    await eventually(() => messages.length >= 2, 'the message published after');
    assert.deepEqual(messages.map((m) => m.data), ['child', 'after']);
  });

  it('a group member that comes back under its clientId gets what was published while it was away; another member name gets none of it', async () => {
    const root = fresh();
    const topic = `${root}.jobs`;
    const clientId = `worker-${id}`;
    const first = busOver({ clientId });
    await first.subscribe(topic, () => {}, { group: 'workers' });
    await first.close();
    const publisher = busOver();
    for (let n = 0; n < 10; n++) await publisher.publish(topic, n);
    const stranger = collect();
    await busOver({ clientId: `other-${id}` }).subscribe(topic, stranger.handler, { group: 'workers' });
    const back = collect();
    await busOver({ clientId }).subscribe(topic, back.handler, { group: 'workers' });
    await eventually(() => back.messages.length === 10, 'the 10 messages the member missed');
    assert.deepEqual(back.messages.map((m) => m.data).sort((a, b) => (a as number) - (b as number)), [...Array(10).keys()]);
    assert.equal(stranger.messages.length, 0, 'the messages were queued for the member that was away');
  });

  it('refuses a group that cannot name a shared subscription, with a ConfigurationError', async () => {
    const bus = busOver();
    await assert.rejects(bus.subscribe(`${fresh()}.x`, () => {}, { group: 'a/b' }), (error: Error) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /group 'a\/b'/);
      return true;
    });
  });

  it('OMNIBUS_URL mqtt:// makes an mqtt driver, with clientId from the query', async () => {
    const driver = await createDriver({ url: `${MQTT_URL}?clientId=svc-1` });
    assert.equal(driver.name, 'mqtt');
    await driver.close();
  });
});
