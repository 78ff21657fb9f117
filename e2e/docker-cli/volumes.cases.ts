import { muelle } from '../control-plane/cli';
import { docker } from './docker';

/** What the volume cases need from the docker-cli suite's platform (two agents, the admin logged in). */
export interface VolumeCaseContext {
  env: Record<string, string>;
  muelleEnv: Record<string, string>;
  busybox: string;
  ok: (...args: string[]) => Promise<string>;
}

/**
 * Named volumes through the stock docker CLI and the muelle bin, on the docker-cli suite's platform
 * (registered there, so no second platform is started): create/ls/inspect/rm, `run -v` making a
 * volume on use, a second container on the volume's host reading what the first wrote, rm refused
 * while a container mounts it, and refusals named; anonymous volumes (`-v /data`) and their removal.
 */
export function volumeCases(context: () => VolumeCaseContext): void {
  it('docker volume create|ls|inspect|rm, run -v vol:/data written by one container and read by the next on its host', async () => {
    const { env, muelleEnv, busybox, ok } = context();
    expect((await ok('volume', 'create', '--label', 'e2e=vol', 'e2e-made')).trim()).toBe('e2e-made');
    expect((await ok('volume', 'inspect', '--format', '{{.Driver}} {{.Scope}} {{index .Labels "e2e"}}', 'e2e-made')).trim()).toBe('local local vol');
    expect((await ok('volume', 'ls', '-q', '--filter', 'label=e2e=vol')).trim().split('\n')).toEqual(['e2e-made']);
    await ok('volume', 'rm', 'e2e-made');
    expect((await docker(['volume', 'inspect', 'e2e-made'], env)).stderr).toMatch(/no such volume: e2e-made/);

    // Made on use, where the writer landed; the reader is placed on that host and sees the file.
    await ok('run', '-d', '--name', 'vol-writer', '-v', 'e2e-data:/data', busybox, 'sh', '-c', 'echo written-once > /data/f; sleep 30');
    const listed = JSON.parse((await muelle(['volume', 'ls', '--format', 'json'], muelleEnv)).stdout) as Array<{ name: string; hostId: string; usedBy: string[] }>;
    const made = listed.find((v) => v.name === 'e2e-data');
    expect(made).toMatchObject({ usedBy: ['vol-writer'] });
    expect((await ok('inspect', '--format', '{{.Node.ID}}', 'vol-writer')).trim()).toBe(made!.hostId);
    await ok('run', '--name', 'vol-reader', '-v', 'e2e-data:/data:ro', busybox, 'sh', '-c', 'until [ -s /data/f ]; do sleep 0.1; done; cat /data/f');
    expect((await ok('logs', 'vol-reader')).trim()).toBe('written-once');
    expect((await ok('inspect', '--format', '{{.Node.ID}}', 'vol-reader')).trim()).toBe(made!.hostId);
    expect((await muelle(['volume', 'ls'], muelleEnv)).stdout).toMatch(/local\s+e2e-data\s+dock-[ab]\s+vol-reader,vol-writer/);
    expect(await ok('system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}} {{.Links}}\n{{end}}')).toMatch(/^e2e-data 2$/m);

    const inUse = await docker(['volume', 'rm', 'e2e-data'], env);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toMatch(/volume e2e-data is in use by container vol-reader, vol-writer/);
    await ok('rm', '-f', 'vol-writer', 'vol-reader');
    expect((await ok('volume', 'prune', '-f', '--filter', 'label=none=here')).trim()).not.toContain('e2e-data');
    const removed = await muelle(['volume', 'rm', 'e2e-data'], muelleEnv);
    expect(removed.stdout.trim()).toBe('e2e-data');
    expect((await ok('volume', 'ls', '-q')).split('\n')).not.toContain('e2e-data');
    // Other drivers and driver options are refused by name.
    expect((await docker(['volume', 'create', '--driver', 'nfs', 'x'], env)).stderr).toMatch(/the volume driver nfs \(only local\) is not supported by Muelle/);
    expect((await docker(['volume', 'create', '--opt', 'type=tmpfs', 'x'], env)).stderr).toMatch(/the volume driver option type \(--opt\) is not supported by Muelle/);
  }, 60_000);

  it('docker run -v /data: an anonymous volume, filled from the image (-v /etc), gone with --rm and rm -v', async () => {
    const { env, busybox, ok } = context();
    const anonymous = async () => (await ok('volume', 'ls', '-q', '--filter', 'label=com.docker.volume.anonymous')).split('\n').filter(Boolean);
    const mountsFormat = '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.RW}}\n{{end}}';
    // --rm in the foreground: the volumes are there while it runs (/etc's holds the image's /etc: copy-up), and go with it.
    const run = docker(['run', '--rm', '--name', 'anon-rm', '-v', '/data', '-v', '/etc', busybox, 'sh', '-c', 'head -1 /etc/passwd; echo x > /data/f; sleep 0.5'], env);
    let mounts: string[] = [];
    for (const deadline = Date.now() + 5_000; mounts.length < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50)))
      mounts = (await docker(['inspect', '--format', mountsFormat, 'anon-rm'], env)).stdout.split('\n').filter((m) => m.startsWith('volume'));
    expect(mounts).toEqual([expect.stringMatching(/^volume [0-9a-f]{64} \/data local true$/), expect.stringMatching(/^volume [0-9a-f]{64} \/etc local true$/)]);
    const names = mounts.map((m) => m.split(' ')[1]);
    expect(await anonymous()).toEqual(expect.arrayContaining(names));
    const ran = await run;
    expect(ran).toMatchObject({ code: 0, stdout: expect.stringMatching(/^root:/) });
    expect((await anonymous()).filter((n) => names.includes(n))).toEqual([]);

    // Detached, then rm -v.
    await ok('run', '-d', '--name', 'anon-keep', '-v', '/data', busybox, 'sleep', '30');
    const kept = (await ok('inspect', '--format', mountsFormat, 'anon-keep')).trim().split(' ')[1];
    await ok('rm', '-f', '-v', 'anon-keep');
    expect(await anonymous()).not.toContain(kept);
  }, 30_000);
}
