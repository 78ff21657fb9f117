import { createRegistryClient } from '@muelle/registry-client';
import { basicAuth, eventually, getJson } from '@muelle/testing';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { muelle } from '../control-plane/cli';
import { adminAuth, ADMIN_PASSWORD, logsOf, Platform, startPlatform } from '../control-plane/platform';
import { docker } from '../docker-cli/docker';

const PASSWORD = 'tenancy-pw-123';

/**
 * Host-level options are admin decisions, quotas per team, team-scoped named volumes (SECURITY.md
 * §3–4), through the real `muelle` CLI and the stock docker CLI against the Docker API, on a
 * distributed platform with one agent. Needs root, NATS, PostgreSQL, docker.io, busybox-static;
 * run under `flock /tmp/muelle-kernel.lock`.
 */
describe('team policies, quotas and volumes through every door', () => {
  let platform: Platform;
  const home: Record<'admin' | 'alpha' | 'beta', Record<string, string>> = { admin: {}, alpha: {}, beta: {} };
  let dockerAlpha: Record<string, string>;
  let granted: string;
  let alphaImage: string;
  let betaImage: string;

  const run = (who: keyof typeof home, ...args: string[]) => muelle(args, home[who], { timeoutMs: 90_000 });
  const ok = async (who: keyof typeof home, ...args: string[]) => {
    const result = await run(who, ...args);
    if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} (${who}) exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logsOf(platform)}`);
    return result.stdout;
  };
  const containerCount = async () => (await getJson(`${platform.api}/v1/containers?all=true&limit=1000`, { headers: adminAuth })).body.items.length as number;
  const post = (path: string, body: unknown) =>
    fetch(`${platform.api}${path}`, { method: 'POST', headers: { ...adminAuth, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<any>;
    });

  beforeAll(async () => {
    platform = await startPlatform({ agents: [{ hostId: 'tenancy-host' }], apiEnv: { MUELLE_DEFAULT_PIDS_LIMIT: '256' } });
    for (const team of ['alpha', 'beta']) {
      const created = await post('/v1/teams', { name: team });
      await post('/v1/users', { username: `${team}-dev`, password: PASSWORD, role: 'member', teamId: created.id });
    }
    for (const who of ['admin', 'alpha', 'beta'] as const) {
      home[who] = { HOME: mkdtempSync(join(tmpdir(), `muelle-${who}-`)) };
      const [user, password] = who === 'admin' ? ['admin', ADMIN_PASSWORD] : [`${who}-dev`, PASSWORD];
      await ok(who, 'login', '-u', user, '-p', password, platform.api);
    }
    // Each team gets busybox in its own repository (the admin copies it there).
    alphaImage = `${platform.registryAddress}/alpha/busybox:1`;
    betaImage = `${platform.registryAddress}/beta/busybox:1`;
    await ok('admin', 'pull', `${platform.other.host}/library/busybox:1`, '--as', 'alpha/busybox:1');
    await ok('admin', 'pull', `${platform.other.host}/library/busybox:1`, '--as', 'beta/busybox:1');

    const token = await fetch(`${platform.api}/v1/auth/tokens`, { method: 'POST', headers: { ...basicAuth('alpha-dev', PASSWORD), 'content-type': 'application/json' }, body: '{"name":"docker"}' }).then(
      (r) => r.json() as Promise<{ token: string }>,
    );
    const config = mkdtempSync(join(tmpdir(), 'muelle-docker-alpha-'));
    writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token.token}` } }));
    dockerAlpha = { DOCKER_HOST: `tcp://127.0.0.1:${platform.apiPort}`, DOCKER_CONFIG: config };

    granted = mkdtempSync(join(tmpdir(), 'muelle-granted-'));
    mkdirSync(join(granted, 'x'));
    writeFileSync(join(granted, 'x', 'hello'), 'hello from the host\n');
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  const refusals: Array<[string, string[], RegExp]> = [
    ['a host bind of /', ['-v', '/:/host'], /bind mount of \/: not allowed for team alpha \(admin policy: no host paths may be bind-mounted\)/],
    ['--network host', ['--network', 'host'], /--network host: not allowed for team alpha/],
    ['a host port below 1024', ['-p', '80:80'], /publishing on host port 80 .*not allowed for team alpha/],
    ['a chosen host IP', ['-p', '127.0.0.1:8080:80'], /publishing on host IP 127\.0\.0\.1 .*not allowed for team alpha/],
    ['--cap-add SYS_ADMIN', ['--cap-add', 'SYS_ADMIN'], /--cap-add SYS_ADMIN: not allowed for team alpha/],
    ['seccomp=unconfined', ['--security-opt', 'seccomp=unconfined'], /--security-opt seccomp=unconfined: not allowed for team alpha/],
  ];

  it('refuses each host-level option to a member through the muelle CLI, naming it, and creates nothing', async () => {
    for (const [, flags, message] of refusals) {
      const result = await run('alpha', 'run', '-d', ...flags, alphaImage, 'true');
      expect({ flags, refused: result.code !== 0, stderr: result.stderr }).toEqual({ flags, refused: true, stderr: expect.stringMatching(message) });
    }
    const sysctl = await run('alpha', 'run', '-d', '--sysctl', 'net.ipv4.ip_forward=1', alphaImage, 'true');
    expect(sysctl.code).not.toBe(0);
    expect(sysctl.stderr).toMatch(/unknown option '--sysctl'/);
    expect(await containerCount()).toBe(0);
    const audit = await getJson(`${platform.api}/v1/audit?action=container.create.denied&actor=alpha-dev&limit=100`, { headers: adminAuth });
    expect(audit.body.items.length).toBeGreaterThanOrEqual(refusals.length);
  }, 120_000);

  it('refuses the same options through the stock docker CLI, and --sysctl as not implemented, creating nothing', async () => {
    for (const [, flags, message] of refusals) {
      const result = await docker(['run', '-d', ...flags, alphaImage, 'true'], dockerAlpha);
      expect({ flags, refused: result.code !== 0, stderr: result.stderr }).toEqual({ flags, refused: true, stderr: expect.stringMatching(message) });
    }
    const sysctl = await docker(['run', '-d', '--sysctl', 'net.ipv4.ip_forward=1', alphaImage, 'true'], dockerAlpha);
    expect(sysctl.code).not.toBe(0);
    expect(sysctl.stderr).toMatch(/the option --sysctl is not supported by Muelle/);
    expect(await containerCount()).toBe(0);
  }, 120_000);

  it('after the admin grants a read-only prefix, a read-only bind below it works and a read-write one is refused', async () => {
    const memberTry = await run('alpha', 'team', 'policy', 'alpha', '--allow-bind', `${granted}:ro`);
    expect(memberTry.code).not.toBe(0);
    expect(memberTry.stderr).toMatch(/a team policy needs the admin role/);
    const put = (team: string, body: unknown) =>
      fetch(`${platform.api}/v1/teams/${team}/policy`, { method: 'PUT', headers: { ...adminAuth, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
    expect(await put('alpha', { hostNetwork: true, bogus: 1 })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/bogus/) } } });
    expect(await put('alpha', { bindMounts: [{ path: 'srv/x' }] })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^body\.bindMounts\.0\.path: an absolute, normalised path/) } } });
    expect(await put('alpha', { capAdd: ['ALL'] })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/ALL cannot be granted/) } } });
    expect(await put('nope', {})).toMatchObject({ status: 404 });
    expect(await ok('admin', 'team', 'policy', 'alpha', '--allow-bind', `${granted}:ro`)).toMatch(new RegExp(`bind mounts\\s+${granted}:ro`));
    expect(await ok('alpha', 'run', '--rm', '-v', `${granted}/x:/x:ro`, alphaImage, 'cat', '/x/hello')).toBe('hello from the host\n');
    const rw = await run('alpha', 'run', '--rm', '-v', `${granted}/x:/x`, alphaImage, 'true');
    expect(rw.code).not.toBe(0);
    expect(rw.stderr).toMatch(new RegExp(`read-write bind mount of ${granted}/x: not allowed for team alpha \\(admin policy: allowed prefixes ${granted} \\(ro\\); add :ro\\)`));
    const outside = await docker(['run', '--rm', '-v', '/etc:/x:ro', alphaImage, 'true'], dockerAlpha);
    expect(outside.stderr).toMatch(/bind mount of \/etc: not allowed for team alpha/);
  }, 120_000);

  it('applies the default pids limit when none is asked, and carries --read-only, --cap-drop and --ulimit', async () => {
    const id = (await ok('alpha', 'run', '-d', '--read-only', '--cap-drop', 'NET_RAW', '--ulimit', 'nofile=512:1024', alphaImage, 'sleep', '30')).trim();
    const inspected = JSON.parse(await ok('alpha', 'inspect', id));
    const spec = (Array.isArray(inspected) ? inspected[0] : inspected).spec;
    expect(spec.resources.pidsLimit).toBe(256);
    expect(spec.security).toMatchObject({ readOnly: true, capDrop: ['NET_RAW'], ulimits: [{ name: 'nofile', soft: 512, hard: 1024 }] });
    await ok('alpha', 'rm', '-f', id);
  }, 90_000);

  it('refuses a container over the team quota with the figures, through both CLIs, and creates nothing', async () => {
    expect(await ok('admin', 'team', 'quota', 'alpha', '--containers', '1')).toMatch(/containers\s+0\s+1/);
    const first = (await ok('alpha', 'run', '-d', alphaImage, 'sleep', '60')).trim();
    const before = await containerCount();
    const second = await run('alpha', 'run', '-d', alphaImage, 'sleep', '60');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/team alpha: containers quota 1, 1 reserved, 1 asked/);
    const viaDocker = await docker(['run', '-d', alphaImage, 'sleep', '60'], dockerAlpha);
    expect(viaDocker.code).not.toBe(0);
    expect(viaDocker.stderr).toMatch(/team alpha: containers quota 1, 1 reserved, 1 asked/);
    expect(await containerCount()).toBe(before);
    // A stopped container takes quota again when it starts: with another one running, it may not.
    await ok('alpha', 'stop', '-t', '0', first);
    // The stop reaches metadata as an event: until then the stopped container still holds its place.
    const other = (await eventually(() => ok('alpha', 'run', '-d', alphaImage, 'sleep', '60'), { timeoutMs: 15_000 })).trim();
    const restart = await run('alpha', 'start', first);
    expect(restart.stderr).toMatch(/team alpha: containers quota 1, 1 reserved, 1 asked/);
    await ok('alpha', 'rm', '-f', other);
    await ok('alpha', 'rm', '-f', first);
    await ok('admin', 'team', 'quota', 'alpha', '--containers', 'none');
  }, 120_000);

  it("gives each team its own named volume: alpha's betavol is not beta's", async () => {
    await ok('beta', 'run', '--rm', '-v', 'betavol:/d', betaImage, 'sh', '-c', 'echo beta-secret > /d/f');
    expect(await ok('beta', 'run', '--rm', '-v', 'betavol:/d', betaImage, 'cat', '/d/f')).toBe('beta-secret\n');
    expect(await ok('alpha', 'run', '--rm', '-v', 'betavol:/d', alphaImage, 'sh', '-c', 'cat /d/f 2>/dev/null || echo empty')).toBe('empty\n');
  }, 120_000);

  it("refuses a push over the team's registry quota with DENIED naming it", async () => {
    await ok('admin', 'team', 'quota', 'alpha', '--registry-bytes', '1g');
    const usage = JSON.parse(await ok('admin', 'team', 'quota', 'alpha', '--format', 'json')).usage.registryBytes as number;
    await ok('admin', 'team', 'quota', 'alpha', '--registry-bytes', String(usage + 1000));
    const bytes = Buffer.alloc(4096, 7);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const client = createRegistryClient({ baseUrl: `http://${platform.registryAddress}`, credentials: { username: 'alpha-dev', password: PASSWORD } });
    await expect(client.pushBlob('alpha/big', digest, bytes.length, () => Readable.from([bytes]))).rejects.toThrow(/team alpha: registry storage quota [\d.]+ [KM]iB, [\d.]+ [KM]iB used, 4 KiB asked/);
    const small = Buffer.alloc(500, 1);
    await client.pushBlob('alpha/small', `sha256:${createHash('sha256').update(small).digest('hex')}`, small.length, () => Readable.from([small]));
  }, 90_000);

  it('audits every refused change, whichever route refused it (here: a member cordoning a host)', async () => {
    const alphaAuth = basicAuth('alpha-dev', PASSWORD);
    const refused = await fetch(`${platform.api}/v1/hosts/tenancy-host/cordon`, { method: 'POST', headers: alphaAuth });
    expect(refused.status).toBe(403);
    const audit = await eventually(async () => {
      const answer = await getJson(`${platform.api}/v1/audit?action=request.denied&actor=alpha-dev&limit=100`, { headers: adminAuth });
      if (!answer.body.items.some((i: { target: string }) => i.target === 'POST /v1/hosts/tenancy-host/cordon')) throw new Error(JSON.stringify(answer.body));
      return answer.body.items;
    });
    expect(audit.find((i: { target: string }) => i.target === 'POST /v1/hosts/tenancy-host/cordon')).toMatchObject({ details: { outcome: 'forbidden', team: 'alpha', rule: 'admin-only' } });
  });
  it("answers a member 404 (not 403, not 500) for another team's container and image through cp, export and save, on the Docker API and /v1", async () => {
    const betaId = (await ok('beta', 'run', '-d', betaImage, 'sleep', '300')).trim();
    const alphaToken = JSON.parse(readFileSync(join(dockerAlpha.DOCKER_CONFIG, 'config.json'), 'utf8')).HttpHeaders.Authorization as string;
    const ask = async (method: string, path: string, body?: Buffer, authorization = alphaToken) => {
      const response = await fetch(`${platform.api}${path}`, { method, headers: { authorization, ...(body ? { 'content-type': 'application/x-tar' } : {}) }, body });
      await response.arrayBuffer();
      return `${method} ${path} → ${response.status}`;
    };
    // A one-file tar (512-byte header + one block + two zero blocks): a well-formed body, so only ownership can refuse it.
    const tar = Buffer.alloc(2048);
    tar.write('f', 0);
    tar.write('0000644\0', 100);
    tar.write('0000000\0', 108);
    tar.write('0000000\0', 116);
    tar.write('00000000002\0', 124);
    tar.write('00000000000\0', 136);
    tar.write('0', 156);
    tar.write('ustar\x0000', 257);
    tar.write('        ', 148);
    tar.write(`${[...tar.subarray(0, 512)].reduce((a, b) => a + b, 0).toString(8).padStart(6, '0')}\0 `, 148);
    tar.write('x\n', 512);
    const repository = betaImage.slice(betaImage.indexOf('/') + 1);
    const requests: Array<[string, string, Buffer?]> = [
      ['HEAD', `/v1.41/containers/${betaId}/archive?path=/etc/passwd`],
      ['GET', `/v1.41/containers/${betaId}/archive?path=/etc/passwd`],
      ['PUT', `/v1.41/containers/${betaId}/archive?path=/tmp`, tar],
      ['GET', `/v1.41/containers/${betaId}/export`],
      ['GET', `/v1.41/images/get?names=${encodeURIComponent(betaImage)}`],
      ['GET', `/v1.41/images/${encodeURIComponent(betaImage)}/get`],
      ['GET', `/v1/containers/${betaId}/archive/stat?path=/etc/passwd`],
      ['GET', `/v1/containers/${betaId}/archive?path=/etc/passwd`],
      ['PUT', `/v1/containers/${betaId}/archive?path=/tmp`, tar],
      ['GET', `/v1/images/save?image=${encodeURIComponent(betaImage)}`],
      ['GET', `/v1/images/save?image=${encodeURIComponent(repository)}`],
    ];
    const answers = [];
    for (const [method, path, body] of requests) answers.push(await ask(method, path, body));
    expect(answers).toEqual(requests.map(([method, path]) => `${method} ${path} → 404`));
    // The owner is served by the same routes (so the 404s are the boundary, not broken routes), and nothing landed in its /tmp.
    const owner = basicAuth('beta-dev', PASSWORD).authorization;
    const own = [requests[0], requests[3], requests[4], requests[9]];
    const ownAnswers = [];
    for (const [method, path] of own) ownAnswers.push(await ask(method, path, undefined, owner));
    expect(ownAnswers).toEqual(own.map(([method, path]) => `${method} ${path} → 200`));
    expect(await ok('beta', 'exec', betaId, 'sh', '-c', 'ls /tmp | wc -l')).toBe('0\n');
    await ok('beta', 'rm', '-f', betaId);
  }, 60_000);
});
