// The catalogue's AsyncAPI 3.0 document, validated by the AsyncAPI project's own parser, and
// the mistakes defineCatalog refuses: a duplicate topic, an example its schema rejects, a
// schema that cannot describe itself as JSON Schema.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import * as v from 'valibot';
import { z } from 'zod';
import { defineCatalog, defineEvent, ConfigurationError, ValidationError } from '../../src/index.js';

const orderPlaced = defineEvent('orders.placed', z.object({ orderId: z.string(), total: z.number().positive() }), {
  description: 'A customer placed an order.',
  example: { orderId: 'o-1', total: 42.5 },
});
const orderShipped = defineEvent('orders.*.shipped', z.object({ carrier: z.string() }), { description: 'An order left the warehouse; the second token is the order id.' });
const audit = defineEvent('audit.>', z.object({ actor: z.string(), action: z.string() }));

/** Errors (severity 0) the AsyncAPI parser finds in `document`. */
async function parserErrors(document: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  return diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`);
}

describe('the event catalogue', () => {
  const catalog = defineCatalog([orderPlaced, orderShipped, audit], { publishes: [orderPlaced, audit], subscribes: [orderShipped] });
  const document = catalog.toAsyncAPI({
    title: 'Shop',
    version: '1.2.0',
    servers: { gateway: { host: '127.0.0.1:4000', protocol: 'ws', pathname: '/v1/ws', description: 'the Omnibus gateway' } },
  }) as Record<string, any>;

  it('writes an AsyncAPI 3.0 document the AsyncAPI parser accepts without errors', async () => {
    assert.equal(document.asyncapi, '3.0.0');
    assert.deepEqual(await parserErrors(document), []);
  });

  it('makes each topic a channel, its wildcards parameters, and its schema the JSON Schema the library writes', () => {
    assert.equal(document.channels.orders_placed.address, 'orders.placed');
    assert.equal(document.channels.orders_placed.description, 'A customer placed an order.');
    assert.equal(document.channels.orders_any_shipped.address, 'orders.{token2}.shipped');
    assert.ok(document.channels.orders_any_shipped.parameters.token2.description);
    assert.equal(document.channels.audit_rest.address, 'audit.{rest}');
    const message = document.components.messages.orders_placed;
    assert.equal(message.payload.schemaFormat, 'application/schema+json;version=draft-07');
    assert.deepEqual(message.payload.schema.required, ['orderId', 'total']);
    assert.equal(message.payload.schema.properties.total.type, 'number');
    assert.deepEqual(message.examples, [{ name: 'example', payload: { orderId: 'o-1', total: 42.5 } }]);
    assert.equal(message.correlationId.location, '$message.header#/correlation-id');
  });

  it('lists what the application publishes as send operations and what it subscribes to as receive', () => {
    assert.deepEqual(Object.keys(document.operations).sort(), ['receive_orders_any_shipped', 'send_audit_rest', 'send_orders_placed']);
    assert.deepEqual(document.operations.send_orders_placed, {
      action: 'send',
      channel: { $ref: '#/channels/orders_placed' },
      messages: [{ $ref: '#/channels/orders_placed/messages/orders_placed' }],
    });
  });

  it('gives every event both operations when no roles are given, and distinct ids to topics that look alike', async () => {
    const alike = defineCatalog([defineEvent('a.b', z.string()), defineEvent('a_b', z.string())]);
    const doc = alike.toAsyncAPI({ title: 't', version: '1' }) as Record<string, any>;
    assert.deepEqual(Object.keys(doc.channels), ['a_b', 'a_b_2']);
    assert.deepEqual(Object.keys(doc.operations).sort(), ['receive_a_b', 'receive_a_b_2', 'send_a_b', 'send_a_b_2']);
    assert.deepEqual(await parserErrors(doc), []);
  });

  it('refuses a topic listed twice, an example its schema rejects, and roles for events it does not list', () => {
    assert.throws(() => defineCatalog([orderPlaced, defineEvent('orders.placed', z.string())]), (e: unknown) => e instanceof ConfigurationError && /'orders\.placed' twice/.test(e.message));
    const stale = defineEvent('orders.placed', z.object({ total: z.number() }), { example: { total: 'ten' } as never });
    assert.throws(() => defineCatalog([stale]), (e: unknown) => e instanceof ValidationError && /example of 'orders\.placed'/.test(e.message));
    assert.throws(() => defineCatalog([orderPlaced], { publishes: [audit] }), (e: unknown) => e instanceof ConfigurationError && /'audit\.>' is in publishes/.test(e.message));
  });

  it('names the event whose schema library cannot write JSON Schema', () => {
    const catalogue = defineCatalog([defineEvent('users.created', v.object({ name: v.string() }))]);
    assert.throws(
      () => catalogue.toAsyncAPI({ title: 't', version: '1' }),
      (e: unknown) => e instanceof ConfigurationError && /'users\.created' \(valibot\)/.test(e.message) && /Standard JSON Schema/.test(e.message),
    );
  });
});
