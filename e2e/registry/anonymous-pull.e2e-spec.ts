import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { basicAuth, freePort, getJson, repoRoot } from '@muelle/testing';
import { muelle } from '../control-plane/cli';
import { ADMIN, startMuelle } from './targets';

const run = promisify(execFile);

/**
 * Anonymous pulls, opened per repository by an admin through the /v1 API or `muelle repo`, and
 * what real OCI clients see: the all-in-one with registry auth on, as shipped, driven by skopeo.
 */
describe('anonymous pull, enabled per repository', () => {
  let platform: Awaited<ReturnType<typeof startMuelle>>;
  let api: string;
  const work = mkdtempSync(join(tmpdir(), 'muelle-anon-'));
  const layout = join(work, 'layout');
  // Nobody's stored credentials: a HOME, auth file and runtime dir of its own for every OCI tool call.
  const anonymousHome = join(work, 'anonymous-home');
  const toolEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: anonymousHome,
    XDG_RUNTIME_DIR: join(anonymousHome, 'run'),
    DOCKER_CONFIG: join(anonymousHome, 'docker'),
    REGISTRY_AUTH_FILE: join(anonymousHome, 'auth.json'),
  };
  const cliEnv = { HOME: join(work, 'cli-home') };
  const creds = `${ADMIN.username}:${ADMIN.password}`;
  const admin = basicAuth(ADMIN.username, ADMIN.password);
  const member = basicAuth('mia', 'mia-password-1');
  let digest: string;

  /** Runs an OCI tool; resolves with {ok, output} instead of throwing, so refusals can be asserted. */
  const tool = async (command: string, args: string[]) => {
    try {
      const { stdout } = await run(command, args, { env: toolEnv, maxBuffer: 64 * 1024 * 1024 });
      return { ok: true, output: stdout };
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      return { ok: false, output: `${e.stderr ?? ''}${e.stdout ?? ''}` || e.message };
    }
  };
  const must = async (command: string, args: string[]) => {
    const result = await tool(command, args);
    if (!result.ok) throw new Error(`${command} ${args.join(' ')} failed: ${result.output}\n--- muelle\n${platform.process.output().slice(-3000)}`);
    return result.output;
  };
  const image = (repository: string, tag = '1') => `docker://${platform.host}/${repository}:${tag}`;
  const anonymousInspect = (repository: string) => tool('skopeo', ['inspect', '--tls-verify=false', image(repository)]);
  const setting = (name: string, auth: Record<string, string> | null, anonymousPull: unknown) =>
    getJson(`${api}/v1/repositories/${name}`, {
      method: 'PATCH',
      headers: { ...(auth ?? {}), 'content-type': 'application/json' },
      body: JSON.stringify({ anonymousPull }),
    });
  const cli = async (...args: string[]) => {
    const result = await muelle(args, cliEnv);
    if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };

  beforeAll(async () => {
    const apiPort = await freePort();
    platform = await startMuelle({ MUELLE_API_PORT: String(apiPort) });
    api = `http://127.0.0.1:${apiPort}`;
    mkdirSync(toolEnv.XDG_RUNTIME_DIR, { recursive: true });
    digest = (await run(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest'])).stdout.trim();
    // The admin pushes with credentials, as anyone publishing would.
    for (const repository of ['public/busybox', 'private/busybox']) {
      await must('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:latest`, image(repository)]);
    }
    const team = await getJson(`${api}/v1/teams`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'public' }) });
    expect(team.status).toBe(201);
    const user = await getJson(`${api}/v1/users`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mia', password: 'mia-password-1', teamId: team.body.id }),
    });
    expect(user.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses an anonymous inspect of a pushed image (401) while nothing is opened', async () => {
    const inspected = await anonymousInspect('public/busybox');
    expect(inspected.ok).toBe(false);
    expect(inspected.output).toMatch(/unauthorized|authentication required/i);
    // Credentials still work: the image is there.
    expect(JSON.parse(await must('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, image('public/busybox')])).Digest).toBe(digest);
  }, 60_000);

  it('refuses the change to anyone but an admin: 401 without credentials, 403 for a member of the owning team', async () => {
    const anonymous = await setting('public/busybox', null, true);
    expect(anonymous).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    const refused = await setting('public/busybox', member, true);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED' } } });
    expect(refused.body.error.message).toMatch(/needs the admin role/);
    // The member may read the setting of their team's repository, not change it.
    expect(await getJson(`${api}/v1/repositories/public/busybox`, { headers: member })).toMatchObject({ status: 200, body: { anonymousPull: false } });
    expect((await setting('public/busybox', admin, 'yes')).body.error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'body.anonymousPull' } });
    expect((await anonymousInspect('public/busybox')).ok).toBe(false);
  }, 60_000);

  it('after `muelle repo anonymous-pull NAME on`, anyone inspects and pulls that repository (only that one)', async () => {
    expect(await cli('login', '-u', ADMIN.username, '-p', ADMIN.password, api)).toMatch(/Login Succeeded/);
    expect(await cli('repo', 'anonymous-pull', 'public/busybox', 'on')).toBe('public/busybox: anonymous pull on\n');
    expect(JSON.parse(await cli('repo', 'show', 'public/busybox', '--format', 'json'))).toMatchObject({ name: 'public/busybox', anonymousPull: true });
    expect(await cli('repo', 'show', 'public/busybox')).toMatch(/^REPOSITORY\s+ANONYMOUS PULL\s+SHARED\s+CREATED\npublic\/busybox\s+on\s+off\s+/);

    const inspected = await anonymousInspect('public/busybox');
    if (!inspected.ok) throw new Error(`anonymous inspect failed: ${inspected.output}`);
    expect(JSON.parse(inspected.output).Digest).toBe(digest);
    const pulled = join(work, 'pulled');
    await must('skopeo', ['copy', '--src-tls-verify=false', image('public/busybox'), `oci:${pulled}:anonymous`]);
    const index = JSON.parse(readFileSync(join(pulled, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(digest);
    const manifest = JSON.parse(readFileSync(join(pulled, 'blobs/sha256', digest.slice(7)), 'utf8'));
    for (const blob of [manifest.config, ...manifest.layers]) {
      const bytes = (dir: string) => readFileSync(join(dir, 'blobs/sha256', blob.digest.slice(7)));
      expect(bytes(pulled).equals(bytes(layout))).toBe(true);
    }

    // Per repository: the other one stays closed.
    const other = await anonymousInspect('private/busybox');
    expect(other.ok).toBe(false);
    expect(other.output).toMatch(/unauthorized|authentication required/i);
  }, 90_000);

  it('still refuses an anonymous push to the opened repository: no tag, not even a blob', async () => {
    // Fresh content, so the push has to upload blobs (busybox's are already there to be found by a pull-scope HEAD).
    const fresh = join(work, 'fresh');
    await run(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), fresh, '--random-layers', '1', '--layer-kib', '64', '--seed', 'anonymous', '--tag', 'latest']);
    const pushed = await tool('skopeo', ['copy', '--dest-tls-verify=false', `oci:${fresh}:latest`, image('public/busybox', 'anonymous')]);
    expect(pushed.ok).toBe(false);
    expect(pushed.output).toMatch(/unauthorized|authentication required|denied/i);
    const tags = JSON.parse(await must('skopeo', ['list-tags', '--tls-verify=false', '--creds', creds, `docker://${platform.host}/public/busybox`]));
    expect(tags.Tags).toEqual(['1']);
    const index = JSON.parse(readFileSync(join(fresh, 'index.json'), 'utf8'));
    const layer = JSON.parse(readFileSync(join(fresh, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8')).layers[0].digest;
    const token = (await getJson(`${platform.url}/v2/token?service=muelle-registry&scope=repository:public/busybox:pull`, { headers: admin })).body.token;
    const head = await fetch(`${platform.url}/v2/public/busybox/blobs/${layer}`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    expect(head.status).toBe(404);
  }, 60_000);

  it('after PATCH {"anonymousPull": false}, anonymous pulls fail again; every change is in the audit log', async () => {
    const closed = await setting('public/busybox', admin, false);
    expect(closed).toMatchObject({ status: 200, body: { name: 'public/busybox', anonymousPull: false } });
    const inspected = await anonymousInspect('public/busybox');
    expect(inspected.ok).toBe(false);
    expect(inspected.output).toMatch(/unauthorized|authentication required/i);
    const copied = await tool('skopeo', ['copy', '--src-tls-verify=false', image('public/busybox'), `oci:${join(work, 'refused')}:anonymous`]);
    expect(copied.ok).toBe(false);

    const audit = await getJson(`${api}/v1/audit?action=repository.update`, { headers: admin });
    expect(audit.body.items.map((e: { actor: string; target: string; details: { anonymousPull: boolean } }) => [e.actor, e.target, e.details.anonymousPull])).toEqual([
      ['admin', 'repository:public/busybox', false],
      ['admin', 'repository:public/busybox', true],
    ]);
  }, 60_000);

  it('`muelle repo anonymous-pull` as a member exits 125 with the API refusal', async () => {
    const memberEnv = { HOME: join(work, 'member-home') };
    expect((await muelle(['login', '-u', 'mia', '-p', 'mia-password-1', api], memberEnv)).code).toBe(0);
    const refused = await muelle(['repo', 'anonymous-pull', 'public/busybox', 'on'], memberEnv);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^Error: changing a repository's settings needs the admin role/);
    expect((await anonymousInspect('public/busybox')).ok).toBe(false);
  }, 60_000);
});
