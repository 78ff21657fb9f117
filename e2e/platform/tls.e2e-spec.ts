import { getJson, makeTestCertificates, repoRoot, runCommand, TestCertificates } from '@muelle/testing';
import { connect } from 'nats';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, adminAuth, logsOf, Platform, startPlatform } from '../control-plane/platform';
import { muelle, muelleInTerminal } from '../control-plane/cli';
import { docker } from '../docker-cli/docker';

/**
 * The api and the registry over HTTPS with certificates made by openssl (as the README says),
 * on an authenticated NATS, driven by real clients: skopeo, the stock docker CLI (Docker API,
 * hijacked attach), the muelle CLI, and an agent pulling through the TLS registry.
 * Needs root (the agent makes containers), NATS, PostgreSQL, skopeo, docker.io, busybox-static.
 */
describe('TLS for the api and the registry', () => {
  let certificates: TestCertificates;
  let platform: Platform;
  let work: string;
  let image: string;

  beforeAll(async () => {
    certificates = makeTestCertificates(['127.0.0.1', 'localhost']);
    work = mkdtempSync(join(tmpdir(), 'muelle-tls-e2e-'));
    platform = await startPlatform({ agents: [{ hostId: 'tls-a' }], tls: certificates });
    image = `${platform.registryAddress}/tls/busybox:1`;
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  const certDir = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(work, 'certs-'));
    for (const [name, source] of Object.entries(files)) copyFileSync(source, join(dir, name));
    return dir;
  };
  const skopeo = (args: string[]) => runCommand('skopeo', ['--command-timeout', '60s', ...args], { env: { HOME: work }, timeoutMs: 90_000 });

  it('serves HTTPS only: plain http to the api and the registry gets no answer it could use', async () => {
    const health = await getJson(`${platform.api}/healthz`, { ca: certificates.ca });
    expect(health.status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${platform.apiPort}/healthz`).then((r) => r.status)).rejects.toThrow();
  });

  it('skopeo pushes and pulls with --dest-cert-dir/--src-cert-dir, and refuses the registry without the CA', async () => {
    const layout = mkdtempSync(join(work, 'layout-'));
    execFileSync(process.execPath, [join(repoRoot, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', '1'], { stdio: 'pipe' });
    const trusting = certDir({ 'ca.crt': certificates.ca });
    const pushed = await skopeo(['copy', '--quiet', '--dest-cert-dir', trusting, '--dest-creds', `admin:${ADMIN_PASSWORD}`, `oci:${layout}:1`, `docker://${image}`]);
    expect(pushed).toMatchObject({ code: 0 });
    const pulled = await skopeo(['inspect', '--cert-dir', trusting, '--creds', `admin:${ADMIN_PASSWORD}`, `docker://${image}`]);
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ Architecture: 'amd64' });
    const copied = await skopeo(['copy', '--quiet', '--src-cert-dir', trusting, '--src-creds', `admin:${ADMIN_PASSWORD}`, `docker://${image}`, `oci:${mkdtempSync(join(work, 'back-'))}:1`]);
    expect(copied.code).toBe(0);
    const untrusting = await skopeo(['inspect', '--creds', `admin:${ADMIN_PASSWORD}`, `docker://${image}`]);
    expect(untrusting.code).not.toBe(0);
    expect(untrusting.stderr).toMatch(/certificate signed by unknown authority/);
  }, 120_000);

  it('the stock docker CLI works against the Docker API over TLS, attach (a hijacked stream) included, and the agent pulls through the TLS registry', async () => {
    const token = await getJson(`${platform.api}/v1/auth/tokens`, {
      method: 'POST',
      headers: { ...adminAuth, 'content-type': 'application/json' },
      body: '{"name":"docker-tls"}',
      ca: certificates.ca,
    });
    const config = join(work, 'docker-config');
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token.body.token}` } }));
    const certPath = certDir({ 'ca.pem': certificates.ca, 'cert.pem': certificates.clientCert, 'key.pem': certificates.clientKey });
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${platform.apiPort}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certPath, DOCKER_CONFIG: config };
    const version = await docker(['version', '--format', '{{.Server.Platform.Name}}'], env);
    expect(version).toMatchObject({ code: 0, stdout: 'Muelle\n' });
    // What crosses the bus to the agent, seen by a plain subscriber with the platform's credentials.
    const bus = await connect({ servers: platform.busEnv.NATS_URL, user: platform.busEnv.NATS_USER, pass: platform.busEnv.NATS_PASSWORD });
    const creates: string[] = [];
    const subscription = bus.subscribe('muelle.agent.tls-a.containers.create.v1', { callback: (_error, message) => creates.push(message.string()) });
    // `run` without -d attaches: the output comes back over the hijacked connection, inside TLS.
    const run = await docker(['run', '--rm', image, 'echo', 'hello over tls'], env, { timeoutMs: 120_000 });
    subscription.unsubscribe();
    await bus.close();
    if (run.code !== 0) throw new Error(`docker run exited ${run.code}\n${run.stdout}\n${run.stderr}\n${logsOf(platform)}`);
    expect(run.stdout).toContain('hello over tls');
    // The agent got a registry token that pulls this one repository, not the user's API token.
    expect(creates).toHaveLength(1);
    expect(creates[0]).not.toContain(token.body.token);
    const registryAuth = JSON.parse(creates[0]).data.registryAuth;
    expect(Object.keys(registryAuth)).toEqual(['token']);
    const claims = JSON.parse(Buffer.from(registryAuth.token.split('.')[1], 'base64url').toString('utf8'));
    expect(claims.access).toEqual([{ type: 'repository', name: 'tls/busybox', actions: ['pull'] }]);
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(300);
    // Without the CA the docker CLI refuses the api's certificate.
    const untrusting = await docker(['version'], { ...env, DOCKER_CERT_PATH: certDir({ 'ca.pem': certificates.clientCert }) });
    expect(untrusting.code).not.toBe(0);
    expect(untrusting.stderr).toMatch(/certificate/);
  }, 180_000);

  it('the muelle CLI trusts MUELLE_TLS_CA and refuses the api without it', async () => {
    const home = mkdtempSync(join(work, 'cli-home-'));
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), MUELLE_API: platform.api };
    const login = await muelle(['login', platform.api, '--username', 'admin', '--password-stdin'], { ...env, MUELLE_TLS_CA: certificates.ca }, { input: `${ADMIN_PASSWORD}\n` });
    expect(login).toMatchObject({ code: 0 });
    const hosts = await muelle(['hosts', 'ls'], { ...env, MUELLE_TLS_CA: certificates.ca });
    expect(hosts.code).toBe(0);
    expect(hosts.stdout).toContain('tls-a');
    const untrusting = await muelle(['hosts', 'ls'], env);
    expect(untrusting.code).not.toBe(0);
    // An interactive session is a WebSocket: over TLS too.
    const trusting = { ...env, MUELLE_TLS_CA: certificates.ca };
    const started = await muelle(['run', '-d', image, 'sleep', '60'], trusting);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    const id = started.stdout.trim().slice(0, 12);
    const session = await muelleInTerminal(['exec', '-it', id, 'sh'], trusting, 'echo "answer=$((6*7))"\nexit 3\n');
    expect(session.stdout).toContain('answer=42');
    expect(session.code).toBe(3);
    await muelle(['rm', '-f', id], trusting);
  }, 90_000);
});
