import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { basicAuth, eventually, freePort, getJson, repoRoot } from '@muelle/testing';
import { muelle } from '../control-plane/cli';
import { docker } from '../docker-cli/docker';
import { ADMIN, startMuelle } from '../registry/targets';

const run = promisify(execFile);

const ALPHA_DEV = { username: 'alpha-dev', password: 'alpha-dev-password' };
const BETA_DEV = { username: 'beta-dev', password: 'beta-dev-password' };
const ALPHA_VIEW = { username: 'alpha-view', password: 'alpha-view-password' };
const creds = (u: { username: string; password: string }) => `${u.username}:${u.password}`;

/**
 * Tenancy at the registry's door and every door that reaches it: the all-in-one with auth on,
 * two teams, attacked by `alpha-dev` with skopeo (against /v2/), the `muelle` CLI and the stock
 * docker CLI (against the Docker API). Each refusal has its legitimate counterpart.
 * Needs root (the agent runs containers), skopeo and docker.io; run under the kernel lock.
 */
describe('tenancy: the registry and the doors that reach it', () => {
  let platform: Awaited<ReturnType<typeof startMuelle>>;
  let api: string;
  let apiPort: number;
  const work = mkdtempSync(join(tmpdir(), 'muelle-tenancy-'));
  const layout = join(work, 'layout');
  const home = join(work, 'home');
  // No stored credentials: every tool call says who it is.
  const toolEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), DOCKER_CONFIG: join(home, 'docker'), REGISTRY_AUTH_FILE: join(home, 'auth.json') };
  const admin = basicAuth(ADMIN.username, ADMIN.password);
  let busyboxDigest: string;

  const skopeo = async (...args: string[]) => {
    try {
      const { stdout } = await run('skopeo', args, { env: toolEnv, maxBuffer: 64 * 1024 * 1024 });
      return { ok: true, output: stdout };
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      return { ok: false, output: `${e.stderr ?? ''}${e.stdout ?? ''}` || e.message };
    }
  };
  const must = async (...args: string[]) => {
    const result = await skopeo(...args);
    if (!result.ok) throw new Error(`skopeo ${args.join(' ')} failed: ${result.output}\n--- muelle\n${platform.process.output().slice(-3000)}`);
    return result.output;
  };
  const image = (repository: string, tag = '1') => `docker://${platform.host}/${repository}:${tag}`;
  const push = (who: { username: string; password: string }, repository: string, tag = '1') =>
    skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds(who), `oci:${layout}:latest`, image(repository, tag));
  const inspect = (who: { username: string; password: string }, repository: string, tag = '1') => skopeo('inspect', '--tls-verify=false', '--creds', creds(who), image(repository, tag));
  const post = (path: string, body: unknown, auth = admin) =>
    getJson(`${api}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const registryToken = async (who: { username: string; password: string }, ...scopes: string[]) => {
    const url = new URL(`${platform.url}/v2/token`);
    url.searchParams.set('service', 'muelle-registry');
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const answer = await getJson(url.toString(), { headers: basicAuth(who.username, who.password) });
    expect(answer.status).toBe(200);
    return answer.body.token as string;
  };

  beforeAll(async () => {
    apiPort = await freePort();
    platform = await startMuelle({ MUELLE_API_PORT: String(apiPort) });
    api = `http://127.0.0.1:${apiPort}`;
    mkdirSync(toolEnv.XDG_RUNTIME_DIR, { recursive: true });
    busyboxDigest = (await run(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest'])).stdout.trim();
    for (const [team, user] of [
      ['alpha', ALPHA_DEV],
      ['beta', BETA_DEV],
    ] as const) {
      const created = await post('/v1/teams', { name: team });
      expect(created.status).toBe(201);
      expect((await post('/v1/users', { ...user, teamId: created.body.id })).status).toBe(201);
    }
    // The legitimate writers: an admin publishes library/, beta-dev its own repository.
    await must('copy', '--dest-tls-verify=false', '--dest-creds', creds(ADMIN), `oci:${layout}:latest`, image('library/busybox', 'x'));
    expect((await push(BETA_DEV, 'beta/secret')).ok).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses alpha-dev every write outside its team (skopeo): beta/evil, overwriting library/busybox', async () => {
    const evil = await push(ALPHA_DEV, 'beta/evil');
    expect(evil.ok).toBe(false);
    expect(evil.output).toMatch(/unauthorized|authentication required|denied/i);
    const overwrite = await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds(ALPHA_DEV), `oci:${layout}:latest`, image('library/busybox', 'x'));
    expect(overwrite.ok).toBe(false);
    // Nothing changed: beta/evil does not exist, library/busybox:x is still the admin's image.
    expect((await inspect(ADMIN, 'beta/evil')).ok).toBe(false);
    expect(JSON.parse(await must('inspect', '--tls-verify=false', '--creds', creds(ADMIN), image('library/busybox', 'x'))).Digest).toBe(busyboxDigest);
  }, 60_000);

  it("refuses alpha-dev beta's repository: inspect, pull and delete fail; beta-dev still has it", async () => {
    expect((await inspect(ALPHA_DEV, 'beta/secret')).ok).toBe(false);
    const pulled = await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds(ALPHA_DEV), image('beta/secret'), `oci:${join(work, 'stolen')}:x`);
    expect(pulled.ok).toBe(false);
    expect((await skopeo('delete', '--tls-verify=false', '--creds', creds(ALPHA_DEV), image('beta/secret'))).ok).toBe(false);
    expect(JSON.parse((await inspect(BETA_DEV, 'beta/secret')).output).Digest).toBe(busyboxDigest);
  }, 60_000);

  it('shows alpha-dev no beta/… in /v2/_catalog and mounts nothing from beta/secret', async () => {
    const token = await registryToken(ALPHA_DEV, 'registry:catalog:*');
    const catalog = await getJson(`${platform.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
    expect(catalog.status).toBe(200);
    expect(catalog.body.repositories).toContain('library/busybox');
    expect(catalog.body.repositories.filter((name: string) => name.startsWith('beta/'))).toEqual([]);
    const layers = JSON.parse((await inspect(BETA_DEV, 'beta/secret')).output).Layers as string[];
    const mountToken = await registryToken(ALPHA_DEV, 'repository:alpha/loot:pull,push', 'repository:beta/secret:pull');
    const mount = await fetch(`${platform.url}/v2/alpha/loot/blobs/uploads/?mount=${layers[0]}&from=beta/secret`, { method: 'POST', headers: { authorization: `Bearer ${mountToken}` } });
    expect(mount.status).toBe(202); // a normal upload session, not a mounted blob
  }, 60_000);

  it('lets alpha-dev push and pull alpha/app and pull library/…', async () => {
    expect((await push(ALPHA_DEV, 'alpha/app')).ok).toBe(true);
    expect(JSON.parse((await inspect(ALPHA_DEV, 'alpha/app')).output).Digest).toBe(busyboxDigest);
    const pulled = await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds(ALPHA_DEV), image('library/busybox', 'x'), `oci:${join(work, 'pulled')}:x`);
    expect(pulled).toMatchObject({ ok: true });
  }, 60_000);

  it('audits the refused token requests and the /v2 pushes with who, team and outcome', async () => {
    await eventually(async () => {
      const refused = await getJson(`${api}/v1/audit?action=registry.token&actor=alpha-dev`, { headers: admin });
      const targets = refused.body.items.map((e: { target: string }) => e.target);
      expect(targets).toEqual(expect.arrayContaining(['repository:beta/evil', 'repository:library/busybox']));
      expect(refused.body.items[0].details).toMatchObject({ team: 'alpha', outcome: 'denied' });
      const pushed = await getJson(`${api}/v1/audit?action=registry.push&actor=alpha-dev`, { headers: admin });
      expect(pushed.body.items).toEqual([expect.objectContaining({ target: 'repository:alpha/app', details: expect.objectContaining({ team: 'alpha', outcome: 'allowed' }) })]);
    });
  }, 30_000);

  it('`muelle run` of a library/ image works for a member; of another team image it answers not found', async () => {
    const env = { HOME: join(work, 'cli-home') };
    expect((await muelle(['login', '-u', ALPHA_DEV.username, '-p', ALPHA_DEV.password, api], env)).code).toBe(0);
    const ran = await muelle(['run', '--rm', 'library/busybox:x', 'echo', 'hello-from-library'], env, { timeoutMs: 60_000 });
    expect({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toMatchObject({ code: 0, stdout: expect.stringContaining('hello-from-library') });
    const refused = await muelle(['run', '--rm', 'beta/secret:1', 'echo', 'stolen'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no such image/i);
    expect(refused.stdout).not.toContain('stolen');
  }, 90_000);

  it("builds for a member only from bases it may pull: FROM beta/secret fails in the builder, FROM library/ works", async () => {
    const env = { HOME: join(work, 'cli-home') };
    const build = async (base: string, tag: string) => {
      const context = mkdtempSync(join(work, 'ctx-'));
      writeFileSync(join(context, 'Dockerfile'), `FROM ${base}\nLABEL built-by=alpha\n`);
      return muelle(['build', context, '-t', tag], env, { timeoutMs: 60_000 });
    };
    const stolen = await build('beta/secret:1', 'alpha/stolen:1');
    expect(stolen.code).not.toBe(0);
    expect(`${stolen.stdout}${stolen.stderr}`).toMatch(/cannot pull beta\/secret:1/);
    const built = await build('library/busybox:x', 'alpha/built:1');
    expect({ code: built.code, stderr: built.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await inspect(ALPHA_DEV, 'alpha/built')).ok).toBe(true);
    // Pushing a build's tag into another team's repository is refused before the builder starts.
    const foreign = await build('library/busybox:x', 'beta/evil:1');
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toMatch(/no such repository: beta\/evil/);
  }, 90_000);

  it('lets a viewer of alpha pull its team and library/, never push or run (403 naming the rule)', async () => {
    const team = (await getJson(`${api}/v1/me`, { headers: basicAuth(ALPHA_DEV.username, ALPHA_DEV.password) })).body.teamId;
    expect((await post('/v1/users', { ...ALPHA_VIEW, role: 'viewer', teamId: team })).status).toBe(201);
    expect(JSON.parse((await inspect(ALPHA_VIEW, 'alpha/app')).output).Digest).toBe(busyboxDigest);
    expect((await inspect(ALPHA_VIEW, 'library/busybox', 'x')).ok).toBe(true);
    expect((await inspect(ALPHA_VIEW, 'beta/secret')).ok).toBe(false);
    expect((await push(ALPHA_VIEW, 'alpha/app', 'viewer')).ok).toBe(false);
    const created = await post('/v1/containers', { image: 'library/busybox:x', command: ['true'] }, basicAuth(ALPHA_VIEW.username, ALPHA_VIEW.password));
    expect(created).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED', details: { rule: 'viewer-read-only' } } } });
  }, 60_000);

  it('answers alpha-dev "not found" through the stock docker CLI: docker pull / inspect of beta/secret', async () => {
    const token = await post('/v1/auth/tokens', { name: 'docker' }, basicAuth(ALPHA_DEV.username, ALPHA_DEV.password));
    expect(token.status).toBe(201);
    const config = join(work, 'docker-alpha');
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token.body.token}` } }));
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${apiPort}`, DOCKER_CONFIG: config };
    const pulled = await docker(['pull', `${platform.host}/beta/secret:1`], env);
    expect(pulled.code).not.toBe(0);
    expect(pulled.stderr).toMatch(/not found/i);
    const inspected = await docker(['image', 'inspect', `${platform.host}/beta/secret:1`], env);
    expect(inspected.code).not.toBe(0);
    expect(inspected.stderr).toMatch(/No such image/);
    // The legitimate path through the same door.
    const library = await docker(['pull', `${platform.host}/library/busybox:x`], env);
    expect({ code: library.code, stderr: library.stderr }).toEqual({ code: 0, stderr: '' });
  }, 90_000);
});
