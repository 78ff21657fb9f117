import { basicAuth, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { muelle } from '../control-plane/cli';
import { allInOneEnv } from './all-in-one-env';
import { PushRefused, pushImage, registryAuth, sha256 } from './registry-push';

/**
 * Small tmpfs disks (run under flock /tmp/muelle-kernel.lock: it mounts and makes a bridge): the
 * data folder (24 MiB), the registry's blob folder in it (8 MiB), the agent's layer store (512 KiB);
 * the embedded database is bind-mounted from an ordinary folder so filling the host does not stop
 * metadata. Registry: /readyz reports low disk once less than MUELLE_MIN_FREE_BYTES is free, a push
 * that does not fit gets a final 507 saying the storage is full (no Retry-After), and `muelle rmi`
 * followed by `muelle system prune` frees the space at once, so the same push then succeeds. Runs:
 * an image that does not fit on the host answers 503 naming the host and the full disk, and when
 * the only host's disk is low the run is refused saying which resource is short.
 */
const PASSWORD = 'full-disk-pw';
const MiB = 1024 * 1024;
const HOST = 'full-disk';

describe('all-in-one: the registry and the host on a full disk', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-full-disk-'));
  const dbHome = mkdtempSync(join(tmpdir(), 'muelle-full-disk-db-'));
  const blobDir = join(dataDir, 'registry');
  const layersDir = join(dataDir, 'layers');
  const cliEnv = { HOME: mkdtempSync(join(tmpdir(), 'muelle-full-disk-home-')) };
  let platform: ServiceProcess | undefined;
  let api = '';
  let registry = '';
  const mounts: string[] = [];
  const mount = (args: string[], target: string) => {
    execFileSync('mount', [...args, target]);
    mounts.unshift(target);
  };

  const readiness = async () => {
    const response = await fetch(`${registry}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
  };

  beforeAll(async () => {
    mount(['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs'], dataDir);
    for (const dir of [blobDir, layersDir, join(dataDir, 'db')]) mkdirSync(dir);
    mount(['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs'], blobDir);
    mount(['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs'], layersDir);
    mount(['--bind', dbHome], join(dataDir, 'db'));
    const target = await allInOneEnv(dataDir, PASSWORD, HOST, {
      MUELLE_MIN_FREE_BYTES: String(5 * MiB),
      MUELLE_HEARTBEAT_SECONDS: '2',
      MUELLE_BRIDGE_NAME: 'muelle-disk0',
      MUELLE_BRIDGE_SUBNET: '10.89.97.0/24',
    });
    api = target.api;
    registry = target.registry;
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), target.env);
    await waitReady(api, 60_000);
    await waitReady(registry, 30_000);
    expect((await muelle(['login', '-u', 'admin', '-p', PASSWORD, api], cliEnv)).code).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await platform?.stop('SIGKILL');
    execFileSync('ip', ['link', 'del', 'muelle-disk0'], { stdio: 'ignore' });
    for (const target of mounts) execFileSync('umount', [target]);
    rmSync(dbHome, { recursive: true, force: true });
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
    const pruned = JSON.parse(prune.stdout);
    expect(pruned.hosts).toEqual([{ hostId: HOST, removedImages: 0, layersDeleted: 0, freedBytes: 0 }]);
    const report = pruned.registry;
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
    // An option it does not implement (docker's --volumes) is refused, not ignored.
    const unknown = await fetch(`${api}/v1/system/prune`, { method: 'POST', headers: admin, body: '{"volumes":true}' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('volumes');
  }, 30_000);

  /** A runnable image of a 1 MiB file (more than the agent's 512 KiB layer store holds), pushed once. */
  let bigPushed: Promise<unknown> | undefined;
  const pushBig = async () => {
    const tar = pack();
    tar.entry({ name: 'big.bin', mtime: new Date(0) }, randomBytes(MiB));
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar) chunks.push(chunk as Buffer);
    const layerTar = Buffer.concat(chunks);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/big.bin'] }, rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } }));
    await pushImage(registry, await registryAuth(registry, 'disk/big', 'admin', PASSWORD), 'disk/big', 'v1', gzipSync(layerTar), 2 * MiB, config);
  };
  const runBig = async (name: string) => {
    await (bigPushed ??= pushBig());
    const response = await fetch(`${api}/v1/containers`, {
      method: 'POST',
      headers: { ...basicAuth('admin', PASSWORD), 'content-type': 'application/json' },
      body: JSON.stringify({ name, image: `${new URL(registry).host}/disk/big:v1`, start: true }),
    });
    return { status: response.status, message: ((await response.json()) as { error?: { message: string } }).error?.message };
  };

  it('answers a run on a host whose disk cannot hold the image with 503 naming the host and the reason', async () => {
    const answer = await runBig('on-full-host');
    if (answer.status !== 503) process.stdout.write(`the platform said:\n${platform!.output().slice(-6000)}\n`);
    expect(answer).toEqual({ status: 503, message: `host ${HOST} has no space left on its disk (ENOSPC): free space there or run elsewhere` });
  }, 60_000);

  it('refuses a run when no host has room, naming the host and its low disk', async () => {
    // Fill the host's data disk below MUELLE_MIN_FREE_BYTES: its next heartbeat reports low disk and the scheduler places nothing there.
    const filler = join(dataDir, 'filler');
    const free = () => Number(statfsSync(dataDir).bavail) * Number(statfsSync(dataDir).bsize);
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 2 * MiB)));
    try {
      // Until the heartbeat lands the run still reaches the host and fails there (503 above).
      let answer = await runBig('no-room');
      for (let i = 0; i < 20 && answer.status === 503; i++) {
        await new Promise((r) => setTimeout(r, 500));
        answer = await runBig('no-room');
      }
      expect(answer).toEqual({ status: 409, message: expect.stringMatching(new RegExp(`^no host can run this container: ${HOST}: low disk \\([\\d.]+ [KM]iB free\\)$`)) });
    } finally {
      rmSync(filler, { force: true });
    }
    // No attempt left a container behind.
    const containers = await fetch(`${api}/v1/containers?all=true`, { headers: basicAuth('admin', PASSWORD) });
    expect(((await containers.json()) as { items: unknown[] }).items).toEqual([]);
  }, 90_000);
});
