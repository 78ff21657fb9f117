import { basicAuth, eventually, getJson, repoRoot, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { allInOneEnv } from '../chaos/all-in-one-env';
import { muelle } from '../control-plane/cli';
import { launchBrowser, screenshot, seriousViolations, signIn, waitForText, watchProblems } from './browser';

// Functions given to page.evaluate/waitForFunction run in the browser; this file is compiled without the DOM library.
declare const document: any;
declare const window: any;
declare const location: any;

/**
 * The web console in Debian's chromium (headless, puppeteer-core), against one all-in-one with a
 * real container runtime (run under flock /tmp/muelle-kernel.lock). Every test leaves a
 * screenshot in tmp/screenshots/. One platform and one browser for the whole suite.
 */
const PASSWORD = 'console-admin-pw';
const HOST = 'console-host';
const auth = basicAuth('admin', PASSWORD);
const json = (body: unknown, headers: Record<string, string> = auth) => ({ method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('web console', () => {
  const work = mkdtempSync(join(tmpdir(), 'muelle-console-'));
  const problems: string[] = [];
  let platform: ServiceProcess;
  let api = '';
  let image = '';
  let browser: Browser;
  let page: Page;
  const cliEnv = { HOME: join(work, 'cli-home') };

  beforeAll(async () => {
    const started = Date.now();
    const setup = await allInOneEnv(join(work, 'data'), PASSWORD, HOST, { MUELLE_BRIDGE_NAME: 'muelle-ui0', MUELLE_BRIDGE_SUBNET: '10.89.110.0/24' });
    api = setup.api;
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), setup.env);
    const registryHost = new URL(setup.registry).host;
    const layout = join(work, 'layout');
    const [ready] = await Promise.all([waitReady(api, 60_000), launchBrowser().then((b) => (browser = b))]);
    void ready;
    execFileSync(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest'], { stdio: 'pipe' });
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `admin:${PASSWORD}`, `oci:${layout}:latest`, `docker://${registryHost}/library/busybox:latest`], { stdio: 'pipe' });
    image = 'library/busybox:latest';
    const alpha = (await getJson(`${api}/v1/teams`, json({ name: 'alpha' }))).body;
    const beta = (await getJson(`${api}/v1/teams`, json({ name: 'beta' }))).body;
    expect((await getJson(`${api}/v1/users`, json({ username: 'ana', password: 'ana-password-1', teamId: alpha.id }))).status).toBe(201);
    expect((await getJson(`${api}/v1/users`, json({ username: 'bob', password: 'bob-password-1', teamId: beta.id }))).status).toBe(201);
    mkdirSync(cliEnv.HOME, { recursive: true });
    const login = await muelle(['login', api, '-u', 'admin', '-p', PASSWORD], cliEnv);
    expect(login.code).toBe(0);
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    watchProblems(page, problems);
    console.log(`console e2e: platform, image, accounts and browser ready in ${Date.now() - started} ms`);
  }, 90_000);

  afterAll(async () => {
    const started = Date.now();
    await browser?.close();
    if (platform && platform.child.exitCode === null) {
      const all = (await getJson(`${api}/v1/containers?all=true`, { headers: auth }).catch(() => ({ body: { items: [] } }))).body.items ?? [];
      // Containers outlive their agent: remove them (all at once) before the platform stops.
      await Promise.all(all.map((c: { id: string }) => fetch(`${api}/v1/containers/${c.id}?force=true`, { method: 'DELETE', headers: auth }).catch(() => undefined)));
      await platform.stop();
    }
    execFileSync('ip', ['link', 'del', 'muelle-ui0'], { stdio: 'ignore' });
    console.log(`console e2e: cleaned up in ${Date.now() - started} ms`);
  }, 60_000);

  it('signs in with an HttpOnly, SameSite=Strict session cookie the page script cannot read', async () => {
    await signIn(page, api, 'admin', PASSWORD);
    const cookie = (await page.cookies()).find((c) => c.name === 'muelle_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('muelle_session');
    await waitForText(page, '.host', HOST);
    await screenshot(page, 'overview');
  }, 30_000);

  it('shows a container started from the CLI appear live, then its logs', async () => {
    await page.goto(`${api}/ui/#/containers`);
    await page.waitForSelector('.state-empty, table');
    const run = await muelle(['run', '-d', '--name', 'cli-box', image, 'sh', '-c', 'for i in 1 2 3; do echo line-$i-from-cli; done; echo needle-in-log; sleep 600'], cliEnv);
    expect(run.code).toBe(0);
    // No reload: the page updates from the event stream.
    await page.waitForSelector('tr[data-container="cli-box"]', { timeout: 15_000 });
    await waitForText(page, 'tr[data-container="cli-box"]', 'running');
    await screenshot(page, 'containers');
    await page.click('tr[data-container="cli-box"] a');
    await waitForText(page, '.log-box', 'needle-in-log');
    await page.type('.logs input[type=search]', 'line-2');
    await page.waitForFunction(() => document.querySelector('.log-box')!.textContent === 'line-2-from-cli', { timeout: 5_000 });
    await screenshot(page, 'logs');
  }, 40_000);

  it('runs echo in the exec terminal and follows a resize', async () => {
    await page.click('#tab-terminal');
    await page.waitForSelector('[data-terminal-status="connected"]', { timeout: 15_000 });
    await page.keyboard.type('echo hello-$((6*7))\n');
    await waitForText(page, '.xterm-accessibility', 'hello-42');
    await page.keyboard.type('stty size\n');
    const sizeBefore = await lastSize(page);
    await page.setViewport({ width: 900, height: 800 });
    await page.keyboard.type('clear; stty size\n');
    await page.waitForFunction((before: string) => {
      const rows = Array.from(document.querySelectorAll('.xterm-accessibility-tree > div') as ArrayLike<{ textContent: string | null }>).map((d) => d.textContent ?? '');
      return rows.some((r) => /^\d+ \d+\s*$/.test(r.trim()) && r.trim() !== before);
    }, { timeout: 10_000 }, sizeBefore);
    await page.setViewport({ width: 1280, height: 800 });
    await screenshot(page, 'terminal');
  }, 40_000);

  it('builds from an uploaded context folder and shows the steps as they run', async () => {
    const context = join(work, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:latest\nARG GREETING\nCOPY hello.txt /hello.txt\nRUN echo "built-in-console $GREETING" && cat /hello.txt\n');
    writeFileSync(join(context, 'hello.txt'), 'context-file-arrived\n');
    await page.goto(`${api}/ui/#/builds`);
    const folder = await page.waitForSelector('input[name=folder]');
    await folder!.uploadFile(join(context, 'Dockerfile'), join(context, 'hello.txt'));
    await page.type('input[name=tags]', 'library/console-app:1');
    await page.type('textarea[name=buildargs]', 'GREETING=from-args');
    await page.click('form[aria-label="New build"] button[type=submit]');
    await page.waitForSelector('[data-build-status="ok"], [data-build-status="bad"]', { timeout: 30_000 });
    const status = await page.$eval('[data-build-status]', (e) => e.textContent);
    expect(status).toMatch(/^Built: 4 steps/);
    await waitForText(page, '.steps', 'built-in-console from-args');
    await waitForText(page, '.steps', 'context-file-arrived');
    expect((await getJson(`${api}/v1/images/inspect?image=library/console-app:1`, { headers: auth })).status).toBe(200);
    await screenshot(page, 'build');
  }, 45_000);

  it('lists the build from the server, and shows a service with its replicas, scaled from the page', async () => {
    // A build that fails, started through the API (not from this page): its record carries the error.
    const failing = join(work, 'failing');
    mkdirSync(failing);
    writeFileSync(join(failing, 'Dockerfile'), 'FROM library/busybox:latest\nRUN echo about-to-fail && exit 3\n');
    const failed = await fetch(`${api}/v1/builds?t=library/console-broken:1`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-tar' }, body: execFileSync('tar', ['-cf', '-', '-C', failing, 'Dockerfile']) });
    expect(await failed.text()).toContain('error');
    // The build of the previous test, as the server keeps it: a reload shows it (no browser-side memory).
    await page.goto(`${api}/ui/#/builds`);
    await page.reload();
    await waitForText(page, 'tr[data-build-state="succeeded"]', 'library/console-app:1');
    await waitForText(page, 'tr[data-build-state="failed"] .build-error', 'non-zero code: 3');
    // Newest first.
    expect(await page.$$eval('tr[data-build-state]', (rows) => rows.map((r) => r.getAttribute('data-build-state')))).toEqual(['failed', 'succeeded']);
    expect(await page.$eval('tr[data-build-state="succeeded"]', (row) => row.textContent)).toMatch(/admin.*4 steps/);
    const records = (await getJson(`${api}/v1/builds?limit=1`, { headers: auth })).body;
    expect(records.items[0]).toMatchObject({ state: 'failed', requestedBy: 'admin' });
    expect(records.nextCursor).toBeTruthy();
    await screenshot(page, 'builds-history');

    const created = await getJson(`${api}/v1/services`, json({ name: 'web', image, command: ['sleep', '600'], replicas: 1 }));
    expect(created.status).toBe(201);
    await page.goto(`${api}/ui/#/services`);
    await waitForText(page, 'tr[data-service="web"]', '1 / 1 running', 20_000);
    await screenshot(page, 'services');
    await page.click('tr[data-service="web"] a');
    await page.waitForSelector('form[aria-label="Scale web"] input[name=replicas]');
    await page.$eval('form[aria-label="Scale web"] input[name=replicas]', (input) => (input as unknown as { select(): void }).select());
    await page.type('form[aria-label="Scale web"] input[name=replicas]', '2');
    await page.click('form[aria-label="Scale web"] button[type=submit]');
    // The second task appears from the container events, without a reload.
    await waitForText(page, '[data-replicas]', '2 / 2 running', 20_000);
    expect(await page.$$('tr[data-task-state="running"]')).toHaveLength(2);
    expect((await getJson(`${api}/v1/services/web`, { headers: auth })).body.spec.replicas).toBe(2);
    // A rolling update, made through the API: its update event shows live, and again from the history after a reload.
    expect((await getJson(`${api}/v1/services/web`, { ...json({ command: ['sleep', '601'] }), method: 'PATCH' })).status).toBe(200);
    await waitForText(page, 'tr[data-update-event="updating"]', 'completed → updating', 10_000);
    await page.reload();
    await waitForText(page, 'tr[data-update-event="updating"]', 'v2', 10_000);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'service');
    // Removed from the page (after its confirm): the service and its tasks go.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('button[aria-label="Remove web"]');
    await page.waitForSelector('tr[data-service="web"], .state-empty');
    await eventually(async () => expect((await getJson(`${api}/v1/services/web`, { headers: auth })).status).toBe(404));
  }, 45_000);

  it('cordons and uncordons a host', async () => {
    await page.goto(`${api}/ui/#/hosts`);
    await (await page.waitForSelector(`button[aria-label="Cordon ${HOST}"]`))!.click();
    await page.waitForSelector(`button[aria-label="Uncordon ${HOST}"]`);
    expect((await getJson(`${api}/v1/hosts/${HOST}`, { headers: auth })).body.cordoned).toBe(true);
    await waitForText(page, `tr[data-host="${HOST}"]`, 'cordoned');
    await screenshot(page, 'hosts-cordoned');
    await page.click(`button[aria-label="Uncordon ${HOST}"]`);
    await page.waitForSelector(`button[aria-label="Cordon ${HOST}"]`);
    expect((await getJson(`${api}/v1/hosts/${HOST}`, { headers: auth })).body.cordoned).toBe(false);
  }, 20_000);

  it("shows a member only the team's objects and offers no admin actions", async () => {
    const as = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    const create = (name: string, who: Record<string, string>) => fetch(`${api}/v1/containers`, { ...json({ image, name, command: ['sleep', '600'], start: true }, who), signal: AbortSignal.timeout(30_000) });
    const [alphaBox, betaBox] = await Promise.all([create('alpha-box', as('ana', 'ana-password-1')), create('beta-box', as('bob', 'bob-password-1'))]);
    expect([alphaBox.status, betaBox.status]).toEqual([201, 201]);
    const context = await browser.createBrowserContext();
    const member = await context.newPage();
    watchProblems(member, problems);
    await member.setViewport({ width: 1280, height: 800 });
    await signIn(member, api, 'ana', 'ana-password-1');
    expect(await member.$$eval('.nav a', (links) => links.map((l) => l.textContent))).toEqual(['Overview', 'Containers', 'Services', 'Images', 'Builds', 'Hosts']);
    await member.goto(`${api}/ui/#/containers`);
    await member.waitForSelector('tr[data-container="alpha-box"]');
    expect(await member.$$eval('tr[data-container]', (rows) => rows.map((r) => r.getAttribute('data-container')))).toEqual(['alpha-box']);
    await screenshot(member, 'member-containers');
    await member.goto(`${api}/ui/#/containers/beta-box`);
    await waitForText(member, '[role=alert]', 'no such container');
    await member.goto(`${api}/ui/#/hosts`);
    await member.waitForSelector(`tr[data-host="${HOST}"]`);
    expect(await member.$$('button[aria-label^="Cordon"]')).toHaveLength(0);
    // The server refuses what is not offered, whatever the page sends (same cookie, same CSRF token).
    const refused = await member.evaluate(async (host: string) => {
      const session = (await (await fetch('/v1/auth/session')).json()) as { csrfToken: string };
      const response = await fetch(`/v1/hosts/${host}/cordon`, { method: 'POST', headers: { 'X-Muelle-CSRF': session.csrfToken } });
      return { status: response.status, body: await response.json() };
    }, HOST);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED' } } });
    await context.close();
  }, 40_000);

  it('refuses a cross-site request carrying the session cookie, and a cookie request without the CSRF token', async () => {
    const cookie = (await page.cookies()).find((c) => c.name === 'muelle_session')!;
    const session = (await getJson(`${api}/v1/auth/session`, { headers: { cookie: `muelle_session=${cookie.value}` } })).body;
    const stop = (headers: Record<string, string>) => getJson(`${api}/v1/containers/cli-box/stop`, { method: 'POST', headers: { cookie: `muelle_session=${cookie.value}`, ...headers } });
    expect(await stop({ origin: 'http://evil.example', 'x-muelle-csrf': session.csrfToken })).toMatchObject({ status: 403, body: { error: { details: { rule: 'origin' } } } });
    expect(await stop({ 'sec-fetch-site': 'cross-site', 'x-muelle-csrf': session.csrfToken })).toMatchObject({ status: 403 });
    expect(await stop({})).toMatchObject({ status: 403, body: { error: { details: { rule: 'csrf' } } } });
    expect(await stop({ 'x-muelle-csrf': 'forged' })).toMatchObject({ status: 403, body: { error: { details: { rule: 'csrf' } } } });
    // A real cross-site page (localhost is another site than 127.0.0.1) posting a form to the api.
    const evil = await startEvilSite(`${api}/v1/containers/cli-box/stop`);
    try {
      await page.goto(evil.url);
      await page.waitForFunction(() => location.port !== '' && document.body.textContent!.includes('error'), { timeout: 10_000 });
      expect(await page.evaluate(() => document.body.textContent)).toMatch(/refused|UNAUTHENTICATED/);
      await screenshot(page, 'cross-site-refused');
    } finally {
      evil.server.close();
    }
    expect((await getJson(`${api}/v1/containers/cli-box`, { headers: auth })).body.state).toBe('running');
  }, 30_000);

  it('passes axe-core with no serious violations at 1280×800 and at phone width, under a strict CSP', async () => {
    const violations: string[] = [];
    // Every page at 1280×800; the busiest ones again at phone width.
    const routes = { 1280: ['overview', 'containers', 'containers/cli-box', 'services', 'images', 'builds', 'hosts', 'admin'], 390: ['overview', 'containers', 'containers/cli-box'] };
    for (const width of [1280, 390] as const) {
      await page.setViewport({ width, height: width === 1280 ? 800 : 844 });
      for (const route of routes[width]) {
        await page.goto(`${api}/ui/#/${route}`);
        await page.waitForSelector('main h1');
        await page.waitForFunction(() => !document.querySelector('.state-loading'), { timeout: 15_000 });
        violations.push(...(await seriousViolations(page)).map((v) => `${width}px #/${route}: ${v}`));
        if (width === 390) {
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect({ route, overflow: overflow > 1 ? overflow : 0 }).toEqual({ route, overflow: 0 });
        }
      }
      await screenshot(page, `width-${width}`);
    }
    expect(violations).toEqual([]);
    await page.goto(`${api}/ui/#/admin`);
    await page.click('#tab-audit');
    await waitForText(page, 'table', 'host.cordon');
    await screenshot(page, 'audit');
    const csp = (await fetch(`${api}/ui/`)).headers.get('content-security-policy');
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(problems).toEqual([]);
  }, 60_000);

  it('signs out: the session token is revoked, not only the cookie dropped', async () => {
    const cookie = (await page.cookies()).find((c) => c.name === 'muelle_session')!;
    await page.goto(`${api}/ui/#/overview`);
    await page.click('.who button');
    await page.waitForSelector('input[name=username]');
    expect((await page.cookies()).find((c) => c.name === 'muelle_session')).toBeUndefined();
    await eventually(async () => expect((await getJson(`${api}/v1/me`, { headers: { cookie: `muelle_session=${cookie.value}` } })).status).toBe(401));
    await screenshot(page, 'signed-out');
  }, 20_000);
});

async function lastSize(page: Page): Promise<string> {
  const handle = await page.waitForFunction(
    () => {
      const rows = Array.from(document.querySelectorAll('.xterm-accessibility-tree > div') as ArrayLike<{ textContent: string | null }>).map((d) => (d.textContent ?? '').trim());
      return rows.filter((r) => /^\d+ \d+$/.test(r)).pop();
    },
    { timeout: 10_000 },
  );
  return (await handle.jsonValue()) as string;
}

/** A page on another site (http://localhost:port) that posts a form to the api at 127.0.0.1. */
async function startEvilSite(target: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form id="f" method="POST" action="${target}"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}/` };
}
