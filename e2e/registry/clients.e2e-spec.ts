import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@muelle/testing';
import { ADMIN, startMuelle } from './targets';

const run = promisify(execFile);
const sh = async (command: string, args: string[], env: Record<string, string> = {}) => {
  try {
    return (await run(command, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
};

/** Real OCI clients (Debian's skopeo, podman, buildah) against Muelle with auth on, as shipped. */
describe('registry with real clients (auth on)', () => {
  let muelle: Awaited<ReturnType<typeof startMuelle>>;
  const work = mkdtempSync(join(tmpdir(), 'muelle-clients-'));
  const layout = join(work, 'layout');
  // podman/buildah: private storage (vfs works everywhere) and auth file, nothing shared with the host.
  const storage = ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
  const authEnv = { REGISTRY_AUTH_FILE: join(work, 'auth.json') };
  let manifestDigest: string;

  beforeAll(async () => {
    muelle = await startMuelle();
    manifestDigest = (await sh('node', [join(repoRoot, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest'])).trim();
  }, 90_000);

  afterAll(async () => {
    await muelle?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const creds = `${ADMIN.username}:${ADMIN.password}`;

  it('skopeo copy pushes with --dest-creds, and the registry serves the same digest', async () => {
    await sh('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:latest`, `docker://${muelle.host}/clients/busybox:1`]);
    const inspected = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/busybox:1`]));
    expect(inspected.Digest).toBe(manifestDigest);
  }, 60_000);

  it('skopeo copy pulls back into an OCI layout with identical manifest and blobs', async () => {
    const back = join(work, 'back');
    await sh('skopeo', ['copy', '--src-tls-verify=false', '--src-creds', creds, `docker://${muelle.host}/clients/busybox:1`, `oci:${back}:copy`]);
    const index = JSON.parse(readFileSync(join(back, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(manifestDigest);
    const hex = manifestDigest.slice('sha256:'.length);
    expect(readFileSync(join(back, 'blobs/sha256', hex)).equals(readFileSync(join(layout, 'blobs/sha256', hex)))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', hex), 'utf8'));
    for (const layer of manifest.layers) {
      const file = (dir: string) => readFileSync(join(dir, 'blobs/sha256', layer.digest.slice(7)));
      expect(file(back).equals(file(layout))).toBe(true);
    }
  }, 60_000);

  it('refuses a push without credentials and a login with a wrong password', async () => {
    await expect(sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${muelle.host}/clients/anonymous:1`])).rejects.toThrow(/denied|unauthorized|authentication required/i);
    await expect(sh('podman', ['login', '--tls-verify=false', '-u', ADMIN.username, '-p', 'wrong-password', muelle.host], authEnv)).rejects.toThrow(/unauthorized|incorrect|invalid/i);
  }, 60_000);

  it('podman login, pull and push', async () => {
    await sh('podman', ['login', '--tls-verify=false', '-u', ADMIN.username, '-p', ADMIN.password, muelle.host], authEnv);
    await sh('podman', [...storage, 'pull', '--tls-verify=false', `${muelle.host}/clients/busybox:1`], authEnv);
    await sh('podman', [...storage, 'tag', `${muelle.host}/clients/busybox:1`, `${muelle.host}/clients/podman:2`], authEnv);
    await sh('podman', [...storage, 'push', '--tls-verify=false', `${muelle.host}/clients/podman:2`], authEnv);
    const tags = JSON.parse(await sh('skopeo', ['list-tags', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/podman`]));
    expect(tags.Tags).toEqual(['2']);
    const pushed = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/podman:2`]));
    const original = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/busybox:1`]));
    // podman may re-encode the manifest, but the layers' content is the same.
    expect(pushed.Layers.length).toBe(original.Layers.length);
  }, 120_000);

  it('buildah push with --creds', async () => {
    await sh('buildah', [...storage, 'pull', '--tls-verify=false', '--creds', creds, `${muelle.host}/clients/busybox:1`]);
    await sh('buildah', [...storage, 'push', '--tls-verify=false', '--creds', creds, `${muelle.host}/clients/busybox:1`, `docker://${muelle.host}/clients/buildah:3`]);
    const inspected = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/buildah:3`]));
    expect(inspected.RepoTags).toEqual(['3']);
  }, 120_000);

  it('skopeo delete removes a manifest', async () => {
    await sh('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:latest`, `docker://${muelle.host}/clients/deleteme:1`]);
    await sh('skopeo', ['delete', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/deleteme@${manifestDigest}`]);
    await expect(sh('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${muelle.host}/clients/deleteme:1`])).rejects.toThrow(/manifest unknown|not found/i);
  }, 60_000);
});
