// The dashboard in a real browser (Debian's chromium, driven by playwright-core): messages
// published over HTTP by someone else appear in the live tail and move the topic's counters,
// the publish form works, the page raises no errors, and a tenant's token shows only its own
// topics. Set DASHBOARD_SCREENSHOT=<file.png> to keep a picture of the page.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { z } from 'zod';
import { defineCatalog, defineEvent } from '../../src/index.js';
import { browserSkip, launchBrowser, openPage } from '../support/browser.js';
import { startGateway, type Running } from '../support/gateway.js';

async function publish(gateway: Running, topic: string, data: unknown, token?: string): Promise<void> {
  const response = await fetch(`${gateway.http}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ topic, data, key: 'k-1', headers: { source: 'test' } }),
  });
  assert.equal(response.status, 200, await response.text());
}

const tailRow = (page: Page, topic: string) => page.locator(`#tail li[data-topic="${topic}"]`);
const topicRow = (page: Page, topic: string) => page.locator('#topics tbody tr', { has: page.locator('td', { hasText: new RegExp(`^${topic.replace(/\./g, '\\.')}$`) }) });

describe('dashboard', { skip: browserSkip() }, () => {
  let browser: Browser;

  // The page is what `npm run build` bundles into dist/dashboard; `npm test` builds first.
  before(async () => (browser = await launchBrowser()));
  after(() => browser?.close());

  it('shows messages published by others live, counts them per topic, and publishes from its form', async () => {
    const catalog = defineCatalog([defineEvent('orders.placed', z.object({ order: z.number() }), { description: 'A customer placed an order.' })]);
    const gateway = await startGateway({ asyncapi: { catalog } });
    const errors: string[] = [];
    try {
      const page = await openPage(browser, `${gateway.http}/`, errors);
      await page.locator('#follow-status', { hasText: "following '>'" }).waitFor();
      await page.locator('#status', { hasText: 'connected' }).waitFor();

      await publish(gateway, 'orders.placed', { order: 42 });
      const row = tailRow(page, 'orders.placed');
      await row.waitFor();
      const text = await row.textContent();
      assert.match(text ?? '', /"order":42/);
      assert.match(text ?? '', /key k-1/);
      assert.match(text ?? '', /source: test/);
      // The topic's row: seen live 1, and 1 published through this gateway (polled every 2 s).
      await topicRow(page, 'orders.placed').locator('td:nth-child(3)', { hasText: /^1$/ }).waitFor();
      await topicRow(page, 'orders.placed').locator('td:nth-child(4)', { hasText: /^1$/ }).waitFor();
      await publish(gateway, 'orders.placed', { order: 43 });
      await topicRow(page, 'orders.placed').locator('td:nth-child(3)', { hasText: /^2$/ }).waitFor();
      assert.equal(await tailRow(page, 'orders.placed').count(), 2);
      // Newest first.
      assert.match((await tailRow(page, 'orders.placed').first().textContent()) ?? '', /"order":43/);

      // The catalogue's events, and who is subscribed: the page itself, following '>'.
      await page.locator('#events tbody td', { hasText: 'A customer placed an order.' }).waitFor();
      await page.locator('#presence tbody tr', { hasText: 'anonymous' }).waitFor();

      // The tail's own subscription is one of the bus's subscriptions.
      await page.locator('#subscriptions tbody td', { hasText: /^>$/ }).first().waitFor();

      await page.fill('#publish-form [name=topic]', 'greetings.sent');
      await page.fill('#publish-form [name=payload]', '{"hello":"from the form"}');
      await page.click('#publish-form button[type=submit]');
      await page.locator('#publish-result', { hasText: 'published' }).waitFor();
      await tailRow(page, 'greetings.sent').waitFor();
      const received: unknown[] = [];
      for await (const message of gateway.bus.read('greetings.sent', { from: 'earliest' })) received.push(message.data);
      assert.deepEqual(received, [{ hello: 'from the form' }]);

      if (process.env.DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await gateway.close();
    }
  });

  it('shows markup in keys, headers and payloads as text, under a policy that allows only its own script', async () => {
    const gateway = await startGateway();
    const errors: string[] = [];
    try {
      const response = await fetch(`${gateway.http}/`);
      assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'; .*connect-src 'self'/);
      const page = await openPage(browser, `${gateway.http}/`, errors);
      await page.locator('#follow-status', { hasText: "following '>'" }).waitFor();
      const markup = '<img src=x onerror="window.pwned=1">';
      const published = await fetch(`${gateway.http}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'markup.test', data: `<script>window.pwned=1</script>${markup}`, key: markup, headers: { note: markup } }),
      });
      assert.equal(published.status, 200);
      const row = tailRow(page, 'markup.test');
      await row.waitFor();
      assert.equal(await row.locator('img, script').count(), 0, 'nothing published became an element');
      assert.ok(((await row.textContent()) ?? '').includes(`key ${markup}`));
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
      assert.deepEqual(errors, []);
    } finally {
      await gateway.close();
    }
  });

  it("asks for a token, and a tenant's token shows only that tenant's topics", async () => {
    const gateway = await startGateway({
      auth: {
        apiKeys: [
          { key: 'key-of-tenant-a', name: 'a', tenant: 'tenant-a' },
          { key: 'key-of-tenant-b', name: 'b', tenant: 'tenant-b' },
        ],
      },
    });
    const errors: string[] = [];
    try {
      await publish(gateway, 'secret.before', { n: 0 }, 'key-of-tenant-b');
      const page = await openPage(browser, `${gateway.http}/`, errors);
      await page.locator('#token-form').waitFor();
      await page.fill('#token', 'not-a-key');
      await page.click('#token-form button[type=submit]');
      await page.locator('#token-error', { hasText: /./ }).waitFor();
      await page.fill('#token', 'key-of-tenant-a');
      await page.click('#token-form button[type=submit]');
      await page.locator('#follow-status', { hasText: "following '>'" }).waitFor();

      // The memory driver delivers in publish order: once A's later message is shown, B's was
      // delivered to whoever could see it.
      await publish(gateway, 'secret.during', { n: 1 }, 'key-of-tenant-b');
      await publish(gateway, 'orders.placed', { n: 2 }, 'key-of-tenant-a');
      await tailRow(page, 'orders.placed').waitFor();
      await topicRow(page, 'orders.placed').locator('td:nth-child(4)', { hasText: /^1$/ }).waitFor();
      const body = (await page.locator('main').textContent()) ?? '';
      assert.doesNotMatch(body, /secret|tenant-b|tenant-a\./);
      assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
    } finally {
      await gateway.close();
    }
  });
});
