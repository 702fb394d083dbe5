// examples/chat runs as a user runs it, with one command: a browser page and the bot (a Node
// client in another process) meet in a room. The page lists who is in the room, the bot greets
// the newcomer from the presence event and answers `!echo`, and a page opened later gets the
// room's history. Nothing waits on time: only on lines and on what the page shows.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserSkip, launchBrowser, openPage } from '../support/browser.js';
import { runExample } from '../support/example-process.js';

describe('examples/chat', { skip: browserSkip() }, () => {
  let browser: Browser;
  before(async () => (browser = await launchBrowser()));
  after(() => browser?.close());

  it('a page and the bot share a room: presence, a greeting, an echo, and history for a later page', { timeout: 90_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'omnibus-chat-'));
    const chat = runExample('examples/chat/main.ts', { cwd: dir, env: { PORT: '0' } });
    const errors: string[] = [];
    try {
      const [, base] = await chat.line(/^chat: open (http:\/\/[^/]+)\//);
      await chat.line(/^bot: joined lobby$/);

      const ada = await openPage(browser, `${base}/?room=lobby&name=Ada`, errors);
      const lines = ada.locator('#lines li');
      await ada.locator('#members li', { hasText: /^Ada$/ }).waitFor();
      await ada.locator('#members li', { hasText: /^bot$/ }).waitFor();
      await chat.line(/^bot: Ada joined lobby$/);
      await lines.filter({ hasText: 'welcome, Ada' }).waitFor();

      await ada.fill('#text', '!echo hello there');
      await ada.press('#text', 'Enter');
      await lines.filter({ hasText: /^bothello there$/ }).waitFor();

      // A second user: both see each other, and the newcomer gets what was said before.
      const bob = await openPage(browser, `${base}/?room=lobby&name=Bob`, errors);
      await bob.locator('#members li', { hasText: /^Ada$/ }).waitFor();
      await ada.locator('#members li', { hasText: /^Bob$/ }).waitFor();
      await bob.locator('#lines li', { hasText: '!echo hello there' }).waitFor();
      const history = await bob.locator('#lines li').allTextContents();
      assert.ok(history.indexOf('Ada!echo hello there') < history.indexOf('bothello there'), history.join('\n'));

      await bob.close();
      await ada.locator('#members li', { hasText: /^Bob$/ }).waitFor({ state: 'detached' });
      await chat.line(/^bot: Bob left lobby$/);
      assert.deepEqual(errors, []);

      chat.child.kill('SIGTERM');
      assert.equal(await chat.exited, 0, chat.lines.join('\n'));
      assert.ok(chat.lines.includes('chat: stopped') && chat.lines.includes('bot: stopped'), chat.lines.join('\n'));
    } finally {
      if (chat.child.exitCode === null) chat.child.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
