// Browser tests drive Debian's chromium with playwright-core. Outside CI a missing chromium
// skips the suite with a line saying how to install it; with CI=true it fails the run.

import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `${CHROMIUM} is missing; install it with: apt-get update && apt-get install -y chromium`;
  if (process.env.CI === 'true') throw new Error(`CI requires ${reason}`);
  console.log(`# skipping a browser suite: ${reason}`);
  return reason;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Opens `url` in a new page, collecting page errors and console errors into `errors`. */
export async function openPage(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  await page.goto(url);
  return page;
}
