import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  basicAuth,
  createTestDatabase,
  eventually,
  freePort,
  getJson,
  NATS_TEST_URL,
  repoRoot,
  serviceEntry,
  ServiceProcess,
  spawnNode,
  uniqueBusNamespace,
  waitReady,
} from '@muelle/testing';
import { muelle } from '../control-plane/cli';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'accounts-admin-pw';

/** GET from a chosen loopback source address (the throttle counts per client address). */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Accounts, tokens, robots and logins through the real `muelle` CLI, skopeo and HTTP, on a
 * distributed platform (metadata, registry and two api replicas as processes on real NATS and
 * PostgreSQL): revocation must reach both api replicas and the registry within seconds.
 */
describe('accounts, tokens and logins', () => {
  const processes: ServiceProcess[] = [];
  const work = mkdtempSync(join(tmpdir(), 'muelle-accounts-'));
  const layout = join(work, 'layout');
  let api: string;
  let api2: string;
  let registry: string;
  let dropDatabase: () => Promise<void>;
  const toolHome = join(work, 'tool-home');
  const toolEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: toolHome, XDG_RUNTIME_DIR: join(toolHome, 'run'), REGISTRY_AUTH_FILE: join(toolHome, 'auth.json') };
  const homes = { admin: join(work, 'admin'), dev: join(work, 'dev') };

  const start = async (service: string, env: Record<string, string>) => {
    const port = await freePort();
    processes.push(spawnNode(service, serviceEntry(service), { ...env, [`MUELLE_${service.toUpperCase()}_PORT`]: String(port) }));
    return `http://127.0.0.1:${port}`;
  };
  const cli = (who: keyof typeof homes, args: string[], input?: string) => muelle(args, { HOME: homes[who], MUELLE_API: api }, { input });
  const must = async (who: keyof typeof homes, args: string[], input?: string) => {
    const result = await cli(who, args, input);
    if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  const me = (base: string, auth: Record<string, string>) => getJson(`${base}/v1/me`, { headers: auth });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const registryLogin = (username: string, password: string) => getJson(`${registry}/v2/token?service=muelle-registry&scope=repository:alpha/app:pull`, { headers: basicAuth(username, password) });
  const skopeoPush = async (creds: string, repository: string) => {
    try {
      await run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:latest`, `docker://${new URL(registry).host}/${repository}:1`], { env: toolEnv });
      return 'pushed';
    } catch (error) {
      return String((error as { stderr?: string }).stderr ?? error);
    }
  };

  beforeAll(async () => {
    const db = await createTestDatabase();
    dropDatabase = db.drop;
    mkdirSync(toolEnv.XDG_RUNTIME_DIR, { recursive: true });
    const registryPort = await freePort();
    const common = {
      NATS_URL: NATS_TEST_URL,
      MUELLE_BUS_NAMESPACE: uniqueBusNamespace(),
      // The machine's shared NATS has no credentials; services refuse it unless told so.
      MUELLE_BUS_INSECURE: 'true',
      DATABASE_URL: db.url,
      MUELLE_DATA_DIR: work,
      MUELLE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      MUELLE_REGISTRY_PORT: String(registryPort),
      MUELLE_RECONCILE_SECONDS: '0',
      MUELLE_LOG_LEVEL: 'warn',
    };
    // Each service its own data folder, as on separate machines.
    const own = (service: string) => ({ ...common, MUELLE_DATA_DIR: join(work, service) });
    const metadata = await start('metadata', own('metadata'));
    registry = `http://127.0.0.1:${registryPort}`;
    processes.push(spawnNode('registry', serviceEntry('registry'), own('registry')));
    api = await start('api', own('api'));
    api2 = await start('api', own('api2'));
    for (const url of [metadata, registry, api, api2]) await waitReady(url, 60_000);
    await run(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest']);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await dropDatabase?.();
  });

  it('creates teams and a member with the CLI, and lists them as tables and JSON', async () => {
    await must('admin', ['login', api, '-u', 'admin', '-p', ADMIN_PASSWORD]);
    await must('admin', ['team', 'create', 'alpha']);
    await must('admin', ['team', 'create', 'beta']);
    await must('admin', ['user', 'create', 'alpha-dev', '--team', 'alpha', '-p', 'alpha-password-1']);
    await must('admin', ['user', 'create', 'beta-dev', '--team', 'beta'], 'beta-password-1\n');
    expect(await must('admin', ['user', 'ls'])).toMatch(/USERNAME\s+ROLE\s+TEAM\s+STATUS[\s\S]*alpha-dev\s+member\s+alpha\s+enabled/);
    const users = JSON.parse(await must('admin', ['user', 'ls', '--team', 'beta', '--format', 'json']));
    expect(users.map((u: { username: string }) => u.username)).toEqual(['beta-dev']);
    expect(JSON.parse(await must('admin', ['team', 'ls', '--format', 'json'])).map((t: { name: string }) => t.name)).toEqual(['alpha', 'beta']);
    // A member sees its own team's users only, and cannot disable anybody.
    await must('dev', ['login', api, '-u', 'alpha-dev', '-p', 'alpha-password-1']);
    expect(JSON.parse(await must('dev', ['user', 'ls', '--format', 'json'])).map((u: { username: string }) => u.username)).toEqual(['alpha-dev']);
    expect((await cli('dev', ['user', 'disable', 'beta-dev'])).stderr).toMatch(/admin role/);
  }, 60_000);

  it('refuses a disabled user on both api replicas and the registry at once, and takes it back when re-enabled', async () => {
    const auth = basicAuth('alpha-dev', 'alpha-password-1');
    // Both replicas and the registry have the credential cached now.
    for (const base of [api, api2]) expect((await me(base, auth)).status).toBe(200);
    expect((await registryLogin('alpha-dev', 'alpha-password-1')).status).toBe(200);
    await must('admin', ['user', 'disable', 'alpha-dev']);
    for (const base of [api, api2]) await eventually(async () => expect((await me(base, auth)).status).toBe(401), { timeoutMs: 3_000, intervalMs: 100 });
    await eventually(async () => expect((await registryLogin('alpha-dev', 'alpha-password-1')).status).toBe(401), { timeoutMs: 3_000, intervalMs: 100 });
    // The member's stored CLI token stopped working too.
    expect((await cli('dev', ['token', 'ls'])).code).not.toBe(0);
    await must('admin', ['user', 'enable', 'alpha-dev']);
    expect((await me(api2, auth)).status).toBe(200);
    expect(await must('dev', ['token', 'ls'])).toMatch(/muelle-cli/);
  }, 60_000);

  it('changes a password with the current one (prompted); the old one is refused on every replica at once', async () => {
    const old = basicAuth('alpha-dev', 'alpha-password-1');
    expect((await me(api2, old)).status).toBe(200);
    const wrong = await cli('dev', ['user', 'passwd'], 'not-my-password\nalpha-password-2\n');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/invalid username or password/);
    expect(await must('dev', ['user', 'passwd'], 'alpha-password-1\nalpha-password-2\n')).toMatch(/Password changed/);
    await eventually(async () => expect((await me(api2, old)).status).toBe(401), { timeoutMs: 3_000, intervalMs: 100 });
    expect((await me(api, basicAuth('alpha-dev', 'alpha-password-2'))).status).toBe(200);
    // An admin resets it without knowing it.
    await must('admin', ['user', 'passwd', 'alpha-dev'], 'alpha-password-3\n');
    expect((await me(api, basicAuth('alpha-dev', 'alpha-password-3'))).status).toBe(200);
  }, 60_000);

  it('expires tokens, and revokes one everywhere (both api replicas, the registry) within seconds', async () => {
    const short = JSON.parse(await must('dev', ['token', 'create', 'short', '--ttl', '2s', '--format', 'json']));
    expect((await me(api, bearer(short.token))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await me(api, bearer(short.token))).status).toBe(401);

    const kept = JSON.parse(await must('dev', ['token', 'create', 'ci', '--format', 'json']));
    for (const base of [api, api2]) expect((await me(base, bearer(kept.token))).status).toBe(200);
    expect((await registryLogin('alpha-dev', kept.token)).status).toBe(200);
    expect(await must('dev', ['token', 'ls'])).toContain(kept.id.slice(0, 12));
    await must('dev', ['token', 'revoke', kept.id.slice(0, 12)]);
    const revokedAt = Date.now();
    for (const base of [api, api2]) await eventually(async () => expect((await me(base, bearer(kept.token))).status).toBe(401), { timeoutMs: 3_000, intervalMs: 100 });
    await eventually(async () => expect((await registryLogin('alpha-dev', kept.token)).status).toBe(401), { timeoutMs: 3_000, intervalMs: 100 });
    expect(Date.now() - revokedAt).toBeLessThan(3_000);
    expect(await must('dev', ['token', 'ls'])).not.toContain(kept.id.slice(0, 12));
  }, 60_000);

  it("gives a team's robot token only its scopes: skopeo pushes to alpha/, not beta/; no containers through /v1", async () => {
    const refused = await cli('dev', ['token', 'create', 'wide', '--team', 'alpha', '--scope', 'repository:beta/*:push']);
    expect(refused.stderr).toMatch(/only give a robot repositories under "alpha\/"/);
    expect((await cli('dev', ['token', 'create', 'other', '--team', 'beta', '--scope', 'repository:beta/*:push'])).stderr).toMatch(/team beta not found/);
    const robot = JSON.parse(await must('dev', ['token', 'create', 'ci', '--team', 'alpha', '--scope', 'repository:alpha/*:pull,push', '--ttl', '1h', '--format', 'json']));
    expect(robot.loginName).toBe('alpha+ci');
    expect(await skopeoPush(`alpha+ci:${robot.token}`, 'alpha/app')).toBe('pushed');
    expect(await skopeoPush(`alpha+ci:${robot.token}`, 'beta/app')).toMatch(/denied|unauthorized|insufficient/i);
    expect((await me(api, bearer(robot.token))).body).toMatchObject({ user: { username: 'alpha+ci' }, teamName: 'alpha' });
    const container = await getJson(`${api}/v1/containers`, { method: 'POST', headers: { ...bearer(robot.token), 'content-type': 'application/json' }, body: JSON.stringify({ image: 'alpha/app:1' }) });
    expect(container.status).toBe(403);
    expect(container.body.error.message).toMatch(/scopes do not allow create on container/);
    expect(await must('admin', ['token', 'ls'])).toMatch(/ci\s+robot\s+alpha\+ci\s+repository:alpha\/\*:pull,push/);
  }, 60_000);

  it('answers 429 with Retry-After after bad logins on /v2/token and /v1, while the right password from another address works', async () => {
    const admin = { ...basicAuth('admin', ADMIN_PASSWORD), 'content-type': 'application/json' };
    const teamId = (await me(api, basicAuth('alpha-dev', 'alpha-password-3'))).body.teamId;
    // Fresh accounts and addresses per door, so earlier tests' failures do not count.
    for (const [door, username, attacker, other] of [
      ['/v2/token', 'target-registry', '127.0.0.5', '127.0.0.2'],
      ['/v1/me', 'target-api', '127.0.0.6', '127.0.0.3'],
    ] as const) {
      const password = `${username}-password`;
      expect((await getJson(`${api}/v1/users`, { method: 'POST', headers: admin, body: JSON.stringify({ username, password, teamId }) })).status).toBe(201);
      const url = door === '/v1/me' ? `${api}/v1/me` : `${registry}/v2/token?service=muelle-registry`;
      const statuses: number[] = [];
      let retryAfter: unknown;
      for (let i = 0; i < 50; i++) {
        const answer = await getFrom(attacker, url, basicAuth(username, `wrong-${i}`));
        statuses.push(answer.status);
        retryAfter ??= answer.headers['retry-after'];
        // /v1 never challenges with Basic (browsers would cache the password).
        if (door === '/v1/me' && answer.status === 401) expect(answer.headers['www-authenticate']).toBeUndefined();
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual(Array(40).fill(429));
      expect(Number(retryAfter)).toBeGreaterThan(0);
      expect((await getFrom(attacker, url, basicAuth(username, password))).status).toBe(429);
      expect((await getFrom(other, url, basicAuth(username, password))).status).toBe(200);
    }
  }, 90_000);

  it('refuses a cross-site state-changing request that carries valid credentials', async () => {
    const headers = { ...basicAuth('admin', ADMIN_PASSWORD), 'content-type': 'application/json' };
    const evil = await getJson(`${api}/v1/containers`, { method: 'POST', headers: { ...headers, origin: 'http://evil.example' }, body: JSON.stringify({ image: 'busybox' }) });
    expect(evil.status).toBe(403);
    expect(evil.body.error.message).toMatch(/http:\/\/evil\.example/);
    const fetchSite = await getJson(`${api}/v1/teams`, { method: 'POST', headers: { ...headers, 'sec-fetch-site': 'cross-site' }, body: JSON.stringify({ name: 'gamma' }) });
    expect(fetchSite.status).toBe(403);
    const sameOrigin = await getJson(`${api}/v1/teams`, { method: 'POST', headers: { ...headers, origin: api }, body: JSON.stringify({ name: 'gamma' }) });
    expect(sameOrigin.status).toBe(201);
  });
});
