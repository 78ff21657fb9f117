import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { repoRoot } from '@muelle/testing';

// Functions given to page.evaluate/waitForFunction run in the browser; this file is compiled without the DOM library.
declare const document: any;
declare const window: any;

/** Debian's chromium; the e2e never downloads a browser (PUPPETEER_SKIP_DOWNLOAD, puppeteer-core). */
export const CHROMIUM = process.env.MUELLE_CHROMIUM ?? '/usr/bin/chromium';
/** Where every console e2e test leaves its screenshot (CI keeps the folder as an artifact). */
export const SCREENSHOTS = join(repoRoot, 'tmp', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // --no-sandbox: the tests run as root, where chromium's own sandbox cannot start.
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `console-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects what the browser reports: page errors and Content-Security-Policy violations. */
export function watchProblems(page: Page, into: string[]): void {
  page.on('pageerror', (error) => into.push(`page error: ${(error as Error).message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) into.push(`CSP: ${message.text()}`);
  });
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page as shown. The script goes in through the
 * DevTools protocol (page.evaluate), which the page's CSP does not govern; the console itself
 * never loads it.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: unknown, options: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  })) as { id: string; impact: string; nodes: { target: string[] }[] }[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

export async function signIn(page: Page, base: string, username: string, password: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.waitForSelector('input[name=username]');
  await page.type('input[name=username]', username);
  await page.type('input[name=password]', password);
  await Promise.all([page.waitForSelector('.topbar'), page.click('button[type=submit]')]);
}

/** Waits until the element matching `selector` contains `text`. */
export function waitForText(page: Page, selector: string, text: string, timeout = 20_000) {
  return page.waitForFunction((s: string, t: string) => Array.from(document.querySelectorAll(s) as ArrayLike<{ textContent: string | null }>).some((e) => (e.textContent ?? '').includes(t)), { timeout, polling: 100 }, selector, text);
}
