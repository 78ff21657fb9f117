import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BuildProgressEvent, BuildRecord } from '@muelle/contracts';
import { detectCgroupDriver, LinuxIsolationDriver, type CgroupDriver } from '@muelle/isolation';
import type { RegistryClient } from '@muelle/registry-client';
import { BuilderStore } from '../src/dockerfile-build/store';
import { BuildsService } from '../src/builds/builds.service';
import { LocalRegistry, mountsUnder, pullAndUnpack, seedBusybox, silentLogger, tempDir, writeTree } from './support';

// Real isolation, real registry (Debian docker-registry), as root.
jest.setTimeout(120_000);

let registry: LocalRegistry;
let client: RegistryClient;
let dataDir: string;
let service: BuildsService;
let cgroups: CgroupDriver | undefined;
const contexts: string[] = [];

async function newService(): Promise<BuildsService> {
  const store = await BuilderStore.open(join(dataDir, 'builder'));
  return new BuildsService({ store, isolation: new LinuxIsolationDriver(), cgroups, defaultRegistry: registry.host, insecureRegistries: [], urlPolicy: { allowPrivateNetworks: false }, logger: silentLogger });
}

beforeAll(async () => {
  registry = await LocalRegistry.start();
  client = registry.client();
  await seedBusybox(client, 'busybox');
  dataDir = tempDir('builder-data');
  cgroups = await detectCgroupDriver().catch(() => undefined);
  service = await newService();
});

afterAll(async () => {
  await registry.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
  for (const dir of contexts) await fs.rm(dir, { recursive: true, force: true });
});

async function context(files: Parameters<typeof writeTree>[1]): Promise<string> {
  const dir = tempDir('context');
  contexts.push(dir);
  await writeTree(dir, files);
  return dir;
}

async function build(dir: string, options: { tags?: string[]; target?: string; noCache?: boolean; sourceDateEpoch?: number; buildArgs?: Record<string, string>; teamId?: string } = {}, svc = service) {
  const events: BuildProgressEvent[] = [];
  const started = Date.now();
  const record: BuildRecord = await svc.run(
    {
      context: { kind: 'directory', path: dir },
      dockerfile: 'Dockerfile',
      tags: (options.tags ?? []).map((t) => `${registry.host}/${t}`),
      buildArgs: options.buildArgs ?? {},
      target: options.target,
      noCache: options.noCache ?? false,
      sourceDateEpoch: options.sourceDateEpoch,
      network: 'none',
      registryCredentials: {},
      ...(options.teamId && { requestedBy: { username: 'builder-test', teamId: options.teamId } }),
    },
    (event) => events.push(event),
  );
  return { record, events, ms: Date.now() - started };
}

const APP_DOCKERFILE = `FROM busybox
ARG VERSION=1.0
ENV APP_HOME=/srv/app GREETING="hello world"
LABEL org.example.version=$VERSION maintainer="muelle"
WORKDIR $APP_HOME
COPY --chmod=0750 run.sh ./bin/
COPY --chown=65534:65534 conf/ /etc/app/
COPY data.txt link.txt ./
RUN echo "built $VERSION" > /built.txt && mkdir -p /scratch && echo x > /scratch/f && rm -f /etc/group && chmod 0600 /built.txt
RUN rm -rf /scratch && ln -s /srv/app/data.txt /data-link
USER nobody
EXPOSE 8080 9090/udp
VOLUME /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["/bin/true"]
ENTRYPOINT ["/srv/app/bin/run.sh"]
CMD ["--serve"]
`;

function appContext(data = 'data v1\n') {
  return context({
    Dockerfile: APP_DOCKERFILE,
    'run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    'conf/app.conf': 'key=value\n',
    'conf/nested/more.conf': 'more\n',
    'conf/current': { symlink: 'app.conf' },
    'data.txt': data,
    'link.txt': { symlink: 'data.txt' },
    'ignored.log': 'should not be copied\n',
    '.dockerignore': '*.log\n',
  });
}

describe('builder (real isolation, real registry)', () => {
  let appDir: string;

  it('builds files, modes, owners, whiteouts and config as Docker would, and pushes under the tag', async () => {
    appDir = await appContext();
    const { record, events } = await build(appDir, { tags: ['team/app:1'] });
    expect(record.error).toBeUndefined();
    expect(record.state).toBe('succeeded');
    expect(record.result?.pushed).toEqual([{ reference: `${registry.host}/team/app:1`, digest: record.result?.digest }]);
    expect(events.filter((e) => e.type === 'step')).toHaveLength(17);

    const image = await pullAndUnpack(client, 'team/app', '1');
    try {
      const stat = (p: string) => fs.lstat(join(image.rootfs, p));
      expect((await stat('srv/app/bin/run.sh')).mode & 0o7777).toBe(0o750);
      const conf = await stat('etc/app/nested/more.conf');
      expect([conf.uid, conf.gid]).toEqual([65534, 65534]);
      const data = await stat('srv/app/data.txt');
      expect([data.uid, data.gid, data.mode & 0o777]).toEqual([0, 0, 0o644]);
      // A symlink named as a source is followed (Docker); symlinks inside copied directories stay links.
      expect(await fs.readFile(join(image.rootfs, 'srv/app/link.txt'), 'utf8')).toBe('data v1\n');
      expect(await fs.readlink(join(image.rootfs, 'etc/app/current'))).toBe('app.conf');
      expect(await fs.readFile(join(image.rootfs, 'built.txt'), 'utf8')).toBe('built 1.0\n');
      expect((await stat('built.txt')).mode & 0o777).toBe(0o600);
      await expect(stat('etc/group')).rejects.toThrow(); // deleted by RUN → whiteout
      await expect(stat('scratch')).rejects.toThrow();
      await expect(stat('srv/app/ignored.log')).rejects.toThrow(); // .dockerignore
      expect(await fs.readlink(join(image.rootfs, 'data-link'))).toBe('/srv/app/data.txt');

      const c = image.config.config;
      expect(c.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_HOME=/srv/app', 'GREETING=hello world']);
      expect(c.WorkingDir).toBe('/srv/app');
      expect(c.User).toBe('nobody');
      expect(c.Labels).toEqual({ 'org.example.version': '1.0', maintainer: 'muelle' });
      expect(c.ExposedPorts).toEqual({ '8080/tcp': {}, '9090/udp': {} });
      expect(c.Volumes).toEqual({ '/data': {} });
      expect(c.StopSignal).toBe('SIGTERM');
      expect(c.Healthcheck).toEqual({ Test: ['CMD', '/bin/true'], Interval: 30e9, Retries: 2 });
      expect(c.Entrypoint).toEqual(['/srv/app/bin/run.sh']);
      expect(c.Cmd).toEqual(['--serve']);
      // base layer + WORKDIR + 3 COPY + 2 RUN
      expect(image.config.rootfs.diff_ids).toHaveLength(7);
      expect(image.config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer)).toHaveLength(7);
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  it('rebuilds an unchanged Dockerfile from cache in under a second with the same digest, even after a restart', async () => {
    const first = await client.headManifest('team/app', '1');
    const restarted = await newService();
    const { record, events, ms } = await build(appDir, {}, restarted);
    expect(record.result?.digest).toBe(first?.digest);
    expect(record.result?.cachedSteps).toBe(16);
    expect(events.some((e) => e.type === 'output')).toBe(false);
    expect(ms).toBeLessThan(1000);
  });

  it('reruns only from the step whose copied file changed', async () => {
    await fs.writeFile(join(appDir, 'data.txt'), 'data v2\n');
    const { record, events } = await build(appDir);
    const hits = events.filter((e) => e.type === 'cache-hit').map((e) => (e as { index: number }).index);
    // Steps 2..7 (ARG..COPY conf/) hit; step 8 (COPY data.txt) and everything after reruns.
    expect(hits).toEqual([2, 3, 4, 5, 6, 7]);
    expect(record.state).toBe('succeeded');
  });

  it("keeps the step cache per team: a team reuses its own steps, never another team's", async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo made-once > /made && date +%s%N >> /made\nCOPY f /f\n', f: 'f\n' });
    const [teamA, teamB] = ['6f1c1f7e-0000-4000-8000-00000000000a', '6f1c1f7e-0000-4000-8000-00000000000b'];
    const first = await build(dir, { teamId: teamA });
    const again = await build(dir, { teamId: teamA });
    const other = await build(dir, { teamId: teamB });
    expect([first, again, other].map((b) => b.record.result?.cachedSteps)).toEqual([0, 2, 0]);
    // Team B's RUN ran again: its own layer (the time in /made differs), not team A's.
    expect(other.record.result?.digest).not.toBe(first.record.result?.digest);
    expect(again.record.result?.digest).toBe(first.record.result?.digest);
  });

  it("lists a team's build cache with sizes, hides it from other teams, and prunes it so the next build misses", async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo listed > /listed\nCOPY f /f\n', f: 'only in the listing case\n' });
    const [teamC, teamD] = ['6f1c1f7e-0000-4000-8000-00000000000c', '6f1c1f7e-0000-4000-8000-00000000000d'];
    await build(dir, { teamId: teamC });
    await build(dir, { teamId: teamC });
    const listed = await service.cache.list(`team:${teamC}`);
    expect(listed.map((e) => e.description).sort()).toEqual(['COPY f /f', 'RUN echo listed > /listed']);
    for (const entry of listed) expect(entry).toMatchObject({ scope: `team:${teamC}`, inUse: false, usageCount: 2 });
    expect(listed.every((e) => e.size > 0)).toBe(true);
    // The COPY chains from the RUN.
    expect(listed.find((e) => e.description.startsWith('COPY'))?.parent).toBe(listed.find((e) => e.description.startsWith('RUN'))?.id);
    expect(await service.cache.list(`team:${teamD}`)).toEqual([]);
    expect((await service.cache.prune({ scope: `team:${teamD}`, all: false, keepStorage: 0 })).deleted).toEqual([]);

    const pruned = await service.cache.prune({ scope: `team:${teamC}`, all: true, keepStorage: 0 });
    expect(pruned.deleted.sort()).toEqual(listed.map((e) => e.id).sort());
    expect(pruned.spaceReclaimed).toBe(listed.reduce((sum, e) => sum + e.size, 0));
    expect(await service.cache.list(`team:${teamC}`)).toEqual([]);
    const after = await build(dir, { teamId: teamC });
    expect(after.record.result?.cachedSteps).toBe(0);
  });

  it('gives identical digests for identical inputs with SOURCE_DATE_EPOCH and no cache', async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nRUN echo hi > /hi && touch /t\nCOPY a /a\n', a: 'A' });
    const one = await build(dir, { noCache: true, sourceDateEpoch: 1700000000 });
    const two = await build(dir, { noCache: true, sourceDateEpoch: 1700000000 });
    expect(one.record.result?.digest).toBeDefined();
    expect(two.record.result?.digest).toBe(one.record.result?.digest);
  });

  it('builds multi-stage with --target and COPY --from, keeping the source stage files out', async () => {
    const dir = await context({
      Dockerfile: `FROM busybox AS build
RUN mkdir /out && echo compiled > /out/app && echo junk > /junk
FROM scratch AS final
COPY --from=build /out/app /app
CMD ["/app"]
FROM final AS debug
COPY --from=0 /bin/busybox /busybox
`,
    });
    const { record } = await build(dir, { tags: ['team/multi:final'], target: 'final' });
    expect(record.error).toBeUndefined();
    const image = await pullAndUnpack(client, 'team/multi', 'final');
    try {
      expect(await fs.readdir(image.rootfs)).toEqual(['app']);
      expect(await fs.readFile(join(image.rootfs, 'app'), 'utf8')).toBe('compiled\n');
      expect(image.config.config.Cmd).toEqual(['/app']);
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  it('RUN layers come from an overlay: stacked RUN steps, an opaque re-made directory, deletions and a named USER', async () => {
    const dir = await context({
      Dockerfile: `FROM busybox
RUN mkdir -p /keep/sub && echo one > /keep/sub/a && echo two > /keep/b && echo gone > /tmp-file
RUN rm -rf /keep && mkdir /keep && echo fresh > /keep/only && rm /tmp-file && ln /keep/only /keep/hard
USER nobody
RUN id -u > /tmp/who
`,
    });
    const { record } = await build(dir, { tags: ['team/overlay:1'] });
    expect(record.error).toBeUndefined();
    const image = await pullAndUnpack(client, 'team/overlay', '1');
    try {
      // /keep was removed and made again in one step: the overlay marked it opaque, so nothing
      // of the earlier /keep shows through.
      expect((await fs.readdir(join(image.rootfs, 'keep'))).sort()).toEqual(['hard', 'only']);
      expect(await fs.readFile(join(image.rootfs, 'keep/only'), 'utf8')).toBe('fresh\n');
      expect((await fs.stat(join(image.rootfs, 'keep/hard'))).ino).toBe((await fs.stat(join(image.rootfs, 'keep/only'))).ino);
      await expect(fs.lstat(join(image.rootfs, 'tmp-file'))).rejects.toThrow();
      expect(await fs.readFile(join(image.rootfs, 'tmp/who'), 'utf8')).toBe('65534\n');
      // The helper's mount points never become part of a RUN layer.
      expect(image.config.rootfs.diff_ids).toHaveLength(4);
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  it('ADD extracts a local tar archive and keeps the owners in it', async () => {
    const dir = await context({ Dockerfile: 'FROM scratch\nADD bundle.tgz /opt/\nADD plain.txt /opt/plain.txt\n', 'plain.txt': 'plain\n' });
    const src = tempDir('tar-src');
    contexts.push(src);
    await writeTree(src, { 'd/f': 'in-tar\n' });
    execFileSync('tar', ['-C', src, '--owner=1234', '--group=4321', '-czf', join(dir, 'bundle.tgz'), 'd']);
    const { record } = await build(dir, { tags: ['team/add:1'] });
    expect(record.error).toBeUndefined();
    const image = await pullAndUnpack(client, 'team/add', '1');
    try {
      expect(await fs.readFile(join(image.rootfs, 'opt/d/f'), 'utf8')).toBe('in-tar\n');
      const stat = await fs.lstat(join(image.rootfs, 'opt/d/f'));
      expect([stat.uid, stat.gid]).toEqual([1234, 4321]);
      expect(await fs.readFile(join(image.rootfs, 'opt/plain.txt'), 'utf8')).toBe('plain\n');
      await expect(fs.lstat(join(image.rootfs, 'opt/bundle.tgz'))).rejects.toThrow();
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  it('RUN steps get the seccomp filter and the device policy of a container', async () => {
    const dir = await context({
      Dockerfile: [
        'FROM busybox',
        'COPY syscall-probe /usr/bin/',
        'RUN grep ^Seccomp: /proc/self/status && syscall-probe && (unshare -U -r id || echo unshare-refused)',
        'RUN mknod /dev/l0 b 7 0 && echo mknod-ok && (dd if=/dev/l0 of=/dev/null count=1 || echo open-refused)',
        '',
      ].join('\n'),
    });
    execFileSync('gcc', ['-static', '-O2', '-o', join(dir, 'syscall-probe'), join(__dirname, '..', '..', '..', 'libs', 'isolation', 'test', 'fixtures', 'syscall-probe.c')]);
    const { record, events } = await build(dir, { noCache: true });
    expect(record.state).toBe('succeeded');
    const output = events.flatMap((e) => (e.type === 'output' ? [e.data] : [])).join('');
    expect(output).toMatch(/^Seccomp:\s+2$/m);
    for (const name of ['keyctl', 'unshare_user', 'mount', 'bpf', 'kexec_load', 'open_by_handle_at']) expect(output).toContain(`${name}=EPERM`);
    expect(output).toContain('fork=ok');
    expect(output).toContain('unshare-refused');
    expect(output).toContain('mknod-ok');
    if (cgroups) expect(output).toMatch(/can't open '\/dev\/l0': Operation not permitted/);
  });

  describe('bad input', () => {
    const failing = async (files: Parameters<typeof writeTree>[1], options: { target?: string; tags?: string[] } = {}) => {
      const dir = await context(files);
      const { record } = await build(dir, options);
      expect(record.state).toBe('failed');
      return record.error as NonNullable<BuildRecord['error']>;
    };

    it('reports a syntax error with line and column', async () => {
      const error = await failing({ Dockerfile: 'FROM busybox\nRUN true\nFORM x\n' });
      expect(error.details).toMatchObject({ kind: 'unknown-instruction', line: 3, column: 1 });
      expect(error.message).toContain('Dockerfile:3:1');
    });

    it('reports a failing RUN with its exit code and last output, and pushes nothing', async () => {
      const { record } = await build(await context({ Dockerfile: 'FROM busybox\nRUN echo first line && echo oops >&2 && exit 7\n' }), { tags: ['team/broken:1'] });
      expect(record.state).toBe('failed');
      const error = record.error as NonNullable<BuildRecord['error']>;
      expect(error.details).toMatchObject({ kind: 'run-failed', exitCode: 7 });
      expect(error.details?.lastOutput).toEqual(expect.arrayContaining(['first line', 'oops']));
      expect(await client.headManifest('team/broken', '1').catch(() => null)).toBeNull();
      expect(await mountsUnder(dataDir)).toEqual([]);
      // Only this build's cgroups: other suites build in parallel workers on the same host.
      if (cgroups) expect((await cgroups.list()).filter((id) => id.startsWith(`muelle-build-${record.id}-`))).toEqual([]);
    });

    it('reports a missing COPY source', async () => {
      const error = await failing({ Dockerfile: 'FROM busybox\nCOPY nope.txt /x\n' });
      expect(error.details).toMatchObject({ kind: 'missing-source', line: 2 });
      expect(error.message).toContain('nope.txt');
    });

    it('refuses COPY ../x and symlinks leaving the context', async () => {
      expect((await failing({ Dockerfile: 'FROM busybox\nCOPY ../x /x\n' })).details).toMatchObject({ kind: 'context-escape', line: 2 });
      expect((await failing({ Dockerfile: 'FROM busybox\nCOPY passwd /x\n', passwd: { symlink: '/etc/passwd' } })).details).toMatchObject({ kind: 'context-escape' });
      expect((await failing({ Dockerfile: 'FROM busybox\nCOPY up/passwd /x\n', up: { symlink: '../..' } })).details).toMatchObject({ kind: 'context-escape' });
    });

    it('refuses ADD of a loopback URL (the platform metrics case), naming the URL and the rule; the server sees nothing', async () => {
      let requests = 0;
      const server = createServer((_req, res) => {
        requests++;
        res.end('muelle_metric 1\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      try {
        const error = await failing({ Dockerfile: `FROM scratch\nADD ${url} /m\n` });
        expect(error.code).toBe('PERMISSION_DENIED');
        expect(error.details).toMatchObject({ kind: 'url-refused', line: 2 });
        expect(error.message).toBe(`Dockerfile:2: ADD ${url} refused: 127.0.0.1 is a loopback address`);
        expect(requests).toBe(0);
      } finally {
        server.close();
      }
    });

    it('reports an unknown target stage and a stage cycle', async () => {
      expect((await failing({ Dockerfile: 'FROM busybox AS a\nRUN true\n' }, { target: 'nope' })).details).toMatchObject({ kind: 'unknown-stage' });
      expect((await failing({ Dockerfile: 'FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n' })).details?.kind).toMatch(/stage-cycle|unknown-stage/);
    });
  });
});
