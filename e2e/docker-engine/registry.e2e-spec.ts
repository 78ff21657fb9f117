import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@muelle/testing';
import { createRegistryClient } from '@muelle/registry-client';
import { ADMIN, startMuelle } from '../registry/targets';
import { findDockerd, PrivateDockerd } from './dockerd';

// A real Docker engine (Debian docker.io, dockerd 20.10) logging in, pushing and pulling against
// Muelle's registry with auth on, through the classic (non-containerd-snapshotter) push flow.
const dockerd = findDockerd();
if (!dockerd) console.warn('e2e/docker-engine skipped: no dockerd binary (apt-get install -y docker.io)');
const suite = dockerd ? describe : describe.skip;

suite('docker login / push / pull against Muelle’s registry (real dockerd)', () => {
  let engine: PrivateDockerd;
  let muelle: Awaited<ReturnType<typeof startMuelle>>;
  const work = mkdtempSync(join(tmpdir(), 'muelle-docker-engine-'));
  const config = join(work, 'docker-config');
  let importedId: string;
  let pushedDigest: string;

  const docker = async (args: string[], input?: string) => {
    const result = await engine.docker(args, { configDir: config, input });
    if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr || result.stdout}\n${engine.output().slice(-2000)}`);
    return result.stdout;
  };
  const repo = (name: string) => `${muelle.host}/${name}`;

  beforeAll(async () => {
    mkdirSync(config);
    [engine, muelle] = await Promise.all([PrivateDockerd.start(dockerd!), startMuelle()]);
    // The busybox image every other registry test uses, imported (nothing comes from Docker Hub).
    const rootfs = join(work, 'rootfs');
    execFileSync(join(repoRoot, 'tools', 'images', 'make-busybox-rootfs.sh'), [rootfs], { stdio: 'ignore' });
    execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-cf', join(work, 'rootfs.tar'), '.']);
    importedId = (await docker(['import', '-c', 'CMD ["sh"]', join(work, 'rootfs.tar'), 'e2e-busybox:imported'])).trim();
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
    await muelle?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('refuses a login with a wrong password and stores nothing', async () => {
    const result = await engine.docker(['login', '-u', ADMIN.username, '--password-stdin', muelle.host], { configDir: config, input: 'wrong-password\n' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unauthorized|incorrect username or password/i);
    const saved = existsSync(join(config, 'config.json')) ? JSON.parse(readFileSync(join(config, 'config.json'), 'utf8')) : {};
    expect(saved.auths?.[muelle.host]).toBeUndefined();
  }, 60_000);

  it('logs in with the admin password', async () => {
    expect(await docker(['login', '-u', ADMIN.username, '--password-stdin', muelle.host], `${ADMIN.password}\n`)).toMatch(/Login Succeeded/);
    const saved = JSON.parse(readFileSync(join(config, 'config.json'), 'utf8'));
    expect(saved.auths[muelle.host].auth).toBe(Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64'));
  }, 60_000);

  it('tags and pushes; the registry serves the manifest under the digest docker printed', async () => {
    await docker(['tag', 'e2e-busybox:imported', repo('engine/busybox:1')]);
    const out = await docker(['push', repo('engine/busybox:1')]);
    expect(out).toMatch(/: Pushed/);
    const printed = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(out);
    expect(printed).not.toBeNull();
    pushedDigest = printed![1];
    const client = createRegistryClient({ baseUrl: muelle.url, credentials: ADMIN });
    expect((await client.headManifest('engine/busybox', '1'))?.digest).toBe(pushedDigest);
  }, 120_000);

  it('pushes again without uploading, and mounts the layer into another repository', async () => {
    expect(await docker(['push', repo('engine/busybox:1')])).toMatch(/Layer already exists/);
    await docker(['tag', 'e2e-busybox:imported', repo('engine/copy:2')]);
    const out = await docker(['push', repo('engine/copy:2')]);
    expect(out).toMatch(/Mounted from engine\/busybox/);
    expect(out).toContain(`2: digest: ${pushedDigest}`);
  }, 120_000);

  it('pulls back after docker rmi: same digest, same image id', async () => {
    await docker(['rmi', repo('engine/busybox:1'), repo('engine/copy:2'), 'e2e-busybox:imported']);
    expect((await engine.docker(['image', 'inspect', importedId], { configDir: config })).code).not.toBe(0);
    const out = await docker(['pull', repo('engine/busybox:1')]);
    expect(out).toContain(`Digest: ${pushedDigest}`);
    const [inspected] = JSON.parse(await docker(['image', 'inspect', repo('engine/busybox:1')]));
    expect(inspected.Id).toBe(importedId);
    expect(inspected.RepoDigests).toEqual([`${repo('engine/busybox')}@${pushedDigest}`]);
    expect(inspected.Config.Cmd).toEqual(['sh']);
    // The pulled image runs nothing here (no network, no runtime needed), but by digest works too.
    expect(await docker(['pull', `${repo('engine/copy')}@${pushedDigest}`])).toContain(`Digest: ${pushedDigest}`);
  }, 120_000);

  it('after docker logout a pull is denied', async () => {
    await docker(['logout', muelle.host]);
    await docker(['rmi', repo('engine/busybox:1')]);
    const result = await engine.docker(['pull', repo('engine/busybox:1')], { configDir: config });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/denied|unauthorized|docker login/i);
  }, 60_000);
});
