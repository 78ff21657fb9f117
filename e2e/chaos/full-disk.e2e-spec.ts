import { basicAuth, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { muelle } from '../control-plane/cli';
import { allInOneEnv } from './all-in-one-env';
import { PushRefused, pushImage, registryAuth } from './registry-push';

/**
 * The registry's blob folder on an 8 MiB tmpfs (run under flock /tmp/muelle-kernel.lock: it
 * mounts): /readyz reports low disk once less than MUELLE_MIN_FREE_BYTES is free, a push that
 * does not fit gets a final 507 saying the storage is full (no Retry-After), and `muelle rmi`
 * followed by `muelle system prune` frees the space at once, so the same push then succeeds.
 */
const PASSWORD = 'full-disk-pw';
const MiB = 1024 * 1024;

describe('all-in-one: the registry on a full disk', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-full-disk-'));
  const blobDir = join(dataDir, 'registry');
  const cliEnv = { HOME: mkdtempSync(join(tmpdir(), 'muelle-full-disk-home-')) };
  let platform: ServiceProcess | undefined;
  let api = '';
  let registry = '';
  let mounted = false;

  const readiness = async () => {
    const response = await fetch(`${registry}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
  };

  beforeAll(async () => {
    mkdirSync(blobDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', blobDir]);
    mounted = true;
    const target = await allInOneEnv(dataDir, PASSWORD, 'full-disk', { MUELLE_RUNTIME: 'disabled', MUELLE_MIN_FREE_BYTES: String(5 * MiB) });
    api = target.api;
    registry = target.registry;
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), target.env);
    await waitReady(api, 60_000);
    await waitReady(registry, 30_000);
    expect((await muelle(['login', '-u', 'admin', '-p', PASSWORD, api], cliEnv)).code).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await platform?.stop('SIGKILL');
    if (mounted) execFileSync('umount', [blobDir]);
  });

  it('reports low disk, refuses what does not fit with a final 507, and frees space on rmi + prune', async () => {
    const auth = await registryAuth(registry, 'disk/app', 'admin', PASSWORD);
    // One chunk: committing renames the part (several would be concatenated: twice the space).
    const old = randomBytes(4 * MiB);
    await pushImage(registry, auth, 'disk/app', 'old', old, old.length);

    // Under 5 MiB free now: not ready, and the check names the disk and the threshold.
    const low = await readiness();
    expect(low.status).toBe(503);
    expect(low.body.checks.disk).toMatch(/^low disk: .* free under .*registry, below MUELLE_MIN_FREE_BYTES \(5 MiB\)$/);

    const big = randomBytes(5 * MiB);
    const refused = await pushImage(registry, auth, 'disk/app', 'new', big).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(PushRefused);
    const refusal = refused as PushRefused;
    expect(refusal.status).toBe(507);
    expect(refusal.retryAfter).toBeNull();
    expect(JSON.parse(refusal.body).errors[0]).toMatchObject({ code: 'DENIED', message: expect.stringContaining('no space left on the storage') });
    // What a client does after a failed push: cancel the upload, so its parts go now.
    expect((await fetch(refusal.upload!, { method: 'DELETE', headers: auth })).status).toBe(204);

    const rmi = await muelle(['rmi', 'disk/app:old'], cliEnv);
    expect(rmi.code).toBe(0);
    const prune = await muelle(['system', 'prune', '--format', 'json'], cliEnv);
    expect(prune.code).toBe(0);
    const report = JSON.parse(prune.stdout).registry;
    expect(report.deletedManifests).toBe(1);
    expect(report.freedBytes).toBeGreaterThanOrEqual(4 * MiB);
    expect((await readiness()).status).toBe(200);

    // The same push fits now (one chunk: the part is renamed into place, not copied).
    await pushImage(registry, auth, 'disk/app', 'new', big, big.length);
    const manifest = await fetch(`${registry}/v2/disk/app/manifests/new`, { method: 'HEAD', headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(manifest.status).toBe(200);
  }, 60_000);

  // Members get 403 from decide() (admin-only `system` updates: libs/authz decide.spec.ts).
  it('prune needs a login, and its body is checked', async () => {
    const admin = { ...basicAuth('admin', PASSWORD), 'content-type': 'application/json' };
    const anonymous = await fetch(`${api}/v1/system/prune`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    const badBody = await fetch(`${api}/v1/system/prune`, { method: 'POST', headers: admin, body: '{"graceSeconds":-1}' });
    expect(badBody.status).toBe(400);
    expect(((await badBody.json()) as { error: { message: string } }).error.message).toMatch(/^body\.graceSeconds: /);
  });
});
