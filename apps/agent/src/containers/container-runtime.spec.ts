import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, ContainerSpec, ContainerSpecInput, ContainerStateChange, InvalidArgumentError } from '@muelle/contracts';
import { CgroupDriver, CgroupStats, DOCKER_DEFAULT_CAPABILITIES, FakeIsolationDriver, HostFs } from '@muelle/isolation';
import pino from 'pino';
import type { ImageStore, StoredImage } from '../images/image-store';
import type { BridgeNetwork } from '../network/bridge-network';
import type { VolumeStore } from '../volumes/volume-store';
import { ContainerRuntime } from './container-runtime';
import { cgroupParentFor } from './cgroup-scope';

/** cgroups in memory: what exists, what was destroyed. */
class FakeCgroups implements CgroupDriver {
  readonly version = 1 as const;
  readonly existing = new Set<string>();
  readonly created: string[] = [];
  async create(id: string): Promise<void> {
    if (this.existing.has(id)) throw new Error(`cgroup ${id} exists`);
    this.existing.add(id);
    this.created.push(id);
  }
  async update(): Promise<void> {}
  paths(id: string): string[] {
    return [`/fake/cgroup/${id}`];
  }
  async stats(): Promise<CgroupStats> {
    return { cpuUsageNs: 0, cpuThrottledPeriods: null, memoryUsageBytes: null, memoryLimitBytes: null, memoryInactiveFileBytes: null, pidsCurrent: null, pidsLimit: null, oomKillCount: 0 };
  }
  async oomKilled(): Promise<boolean> {
    return false;
  }
  async pids(): Promise<number[]> {
    return [];
  }
  async list(): Promise<string[]> {
    return [...this.existing];
  }
  async destroy(id: string): Promise<void> {
    this.existing.delete(id);
  }
}

/** Real FIFOs (the runtime reads container output from them) without the root-only helper. */
class FifoHostFs extends HostFs {
  override async mkfifo(path: string): Promise<void> {
    execFileSync('mkfifo', ['-m', '600', path]);
  }
}

const IMAGE = 'registry.test/busybox:latest';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const LAYER = `sha256:${'b'.repeat(64)}`;

describe('ContainerRuntime (fake isolation driver)', () => {
  let root: string;
  let driver: FakeIsolationDriver;
  let cgroups: FakeCgroups;
  let runtime: ContainerRuntime;
  let events: ContainerStateChange[];
  let n = 0;

  const statesOf = (id: string) => events.filter((e) => e.id === id).map((e) => e.state);
  const newId = () => (++n).toString(16).padStart(64, '0');
  const spec = (input: Partial<ContainerSpecInput>): ContainerSpec => ContainerSpec.parse({ image: IMAGE, network: 'none', command: ['sleep', '100'], ...input });
  const create = (input: Partial<ContainerSpecInput>, name = `c${n + 1}`) => runtime.create({ id: newId(), name, spec: spec(input) });
  const waitFor = async (check: () => boolean, what: string, ms = 5000) => {
    for (const deadline = Date.now() + ms; !check(); ) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'runtime-spec-'));
    const layerDir = join(root, 'layer');
    for (const dir of ['bin', 'etc']) mkdirSync(join(layerDir, dir), { recursive: true });
    for (const bin of ['sh', 'sleep', 'true']) {
      writeFileSync(join(layerDir, 'bin', bin), '');
      chmodSync(join(layerDir, 'bin', bin), 0o755);
    }
    writeFileSync(join(layerDir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
    writeFileSync(join(layerDir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    const image: StoredImage = { digest: DIGEST, configDigest: DIGEST, references: [IMAGE], layers: [LAYER], sizeBytes: 1, config: { config: {} } as StoredImage['config'], pulledAt: new Date().toISOString() };
    const images = {
      ensure: async (reference: string) => {
        if (reference !== IMAGE) throw new InvalidArgumentError(`no image ${reference}`);
        return image;
      },
      find: async () => image,
      layerPath: () => layerDir,
    } as unknown as ImageStore;
    const volumes = { ensure: async () => undefined, dataPath: (name: string) => join(root, 'volumes', name) } as unknown as VolumeStore;
    const network = { ipam: { release: async () => undefined }, sync: async () => undefined, leave: async () => undefined, ports: { open: async () => undefined, close: async () => undefined } } as unknown as BridgeNetwork;
    driver = new FakeIsolationDriver();
    cgroups = new FakeCgroups();
    events = [];
    runtime = new ContainerRuntime({
      hostId: 'unit-host',
      dataDir: join(root, 'data'),
      driver,
      cgroups,
      hostFs: new FifoHostFs('/nonexistent-helper'),
      images,
      volumes,
      network,
      logRotation: { maxBytes: 1 << 20, maxFiles: 2 },
      emit: (change) => events.push(change),
      logger: pino({ level: 'silent' }),
    });
    await runtime.init();
  });

  afterEach(async () => {
    for (const c of driver.containers) c.exit(137, 'SIGKILL');
    await runtime.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('runs a container to its exit and emits created, running, exited with the exit code', async () => {
    driver.onRun((p) => void setTimeout(() => p.exit(3), 10));
    const { id } = await create({ command: ['sh', '-c', 'exit 3'] });
    await runtime.start(id);
    expect(await runtime.wait(id, 'not-running')).toEqual({ exitCode: 3, oomKilled: false });
    expect(statesOf(id)).toEqual(['created', 'running', 'exited']);
    expect(events.find((e) => e.id === id && e.state === 'exited')).toMatchObject({ exitCode: 3, hostId: 'unit-host', imageDigest: DIGEST });
    expect(runtime.info(id)).toMatchObject({ state: 'exited', exitCode: 3, pid: null });
  });

  it('passes init, args, env and the exit file to the isolation driver', async () => {
    const { id } = await create({ init: true, command: ['sleep', '5'], env: ['A=1'] });
    await runtime.start(id);
    const run = driver.containers[0]?.spec as Parameters<FakeIsolationDriver['run']>[0];
    expect(run.init).toBe(true);
    expect(run.args).toEqual(['sleep', '5']);
    expect(run.env).toEqual(expect.arrayContaining(['A=1', 'HOME=/root']));
    expect(run.detached?.exitFile).toBe(join(runtime.dir(id), 'exit'));
    const plain = await create({});
    await runtime.start(plain.id);
    expect((driver.containers[1]?.spec as Parameters<FakeIsolationDriver['run']>[0]).init).toBe(false);
  });

  it('passes the security options to the isolation driver (capabilities, seccomp, ulimits, read-only root)', async () => {
    const { id } = await create({ security: { readOnly: true, capDrop: ['ALL'], capAdd: ['CHOWN'], ulimits: [{ name: 'nofile', soft: 64, hard: -1 }], seccomp: 'unconfined' } });
    await runtime.start(id);
    const run = driver.containers[0]?.spec as Parameters<FakeIsolationDriver['run']>[0];
    expect(run).toMatchObject({ readonlyRootfs: true, capabilities: ['CHOWN'], seccomp: 'unconfined', rlimits: [{ type: 'NOFILE', soft: 64, hard: 'unlimited' }] });
    const plain = await create({});
    await runtime.start(plain.id);
    expect(driver.containers[1]?.spec).toMatchObject({ readonlyRootfs: false, seccomp: 'default', rlimits: [], capabilities: DOCKER_DEFAULT_CAPABILITIES });
  });

  describe('restart policies', () => {
    it('no: an exited container stays exited', async () => {
      driver.onRun((p) => void setTimeout(() => p.exit(1), 5));
      const { id } = await create({ restartPolicy: { name: 'no' } });
      await runtime.start(id);
      await runtime.wait(id, 'not-running');
      await new Promise((r) => setTimeout(r, 300));
      expect(driver.containers).toHaveLength(1);
      expect(runtime.info(id)).toMatchObject({ state: 'exited', restartCount: 0 });
    });

    it('on-failure:N restarts failures N times with a doubling back-off, then gives up', async () => {
      const startedAt: number[] = [];
      driver.onRun((p) => {
        startedAt.push(Date.now());
        setTimeout(() => p.exit(2), 5);
      });
      const { id } = await create({ restartPolicy: { name: 'on-failure', maxRetries: 2 } });
      await runtime.start(id);
      await waitFor(() => runtime.info(id).restartCount === 2 && runtime.info(id).state === 'exited', 'two restarts');
      await new Promise((r) => setTimeout(r, 500));
      expect(driver.containers).toHaveLength(3);
      expect(runtime.info(id)).toMatchObject({ state: 'exited', exitCode: 2, restartCount: 2 });
      const [first, second, third] = startedAt as [number, number, number];
      expect(second - first).toBeGreaterThanOrEqual(100);
      expect(third - second).toBeGreaterThanOrEqual(200);
      expect(statesOf(id)).toEqual(['created', 'running', 'exited', 'restarting', 'running', 'exited', 'restarting', 'running', 'exited']);
    });

    it('on-failure does not restart a clean exit', async () => {
      driver.onRun((p) => void setTimeout(() => p.exit(0), 5));
      const { id } = await create({ restartPolicy: { name: 'on-failure', maxRetries: 0 } });
      await runtime.start(id);
      await runtime.wait(id, 'not-running');
      await new Promise((r) => setTimeout(r, 300));
      expect(driver.containers).toHaveLength(1);
    });

    it.each(['always', 'unless-stopped'] as const)('%s restarts even clean exits, until the user stops it', async (name) => {
      driver.onRun((p) => {
        if (driver.containers.length < 3) setTimeout(() => p.exit(0), 5);
      });
      const { id } = await create({ restartPolicy: { name } });
      await runtime.start(id);
      await waitFor(() => driver.containers.length === 3 && runtime.isRunning(id), 'third run');
      const stopped = await runtime.stop(id, 1);
      expect(stopped).toMatchObject({ state: 'exited', stoppedByUser: true, restartCount: 2 });
      await new Promise((r) => setTimeout(r, 300));
      expect(driver.containers).toHaveLength(3);
      expect(driver.containers[2]?.signals).toEqual(['SIGTERM']);
    });

    it('a stop during the back-off cancels the pending restart', async () => {
      driver.onRun((p) => void setTimeout(() => p.exit(1), 5));
      const { id } = await create({ restartPolicy: { name: 'always' } });
      // Stop the moment the back-off begins (a poll could miss the 100 ms window on a loaded machine).
      let stopping: Promise<unknown> | undefined;
      const emit = events.push.bind(events);
      events.push = (...changes) => {
        for (const change of changes) if (change.id === id && change.state === 'restarting') stopping ??= runtime.stop(id);
        return emit(...changes);
      };
      await runtime.start(id);
      await waitFor(() => stopping !== undefined, 'restarting');
      await stopping;
      await new Promise((r) => setTimeout(r, 400));
      expect(driver.containers).toHaveLength(1);
      expect(runtime.info(id).state).toBe('exited');
    });
  });

  it('stop sends the stop signal, then SIGKILL once the grace period is over', async () => {
    driver.onRun((p) => {
      p.ignoredSignals.add('SIGTERM');
    });
    const { id } = await create({});
    await runtime.start(id);
    const started = Date.now();
    const stopped = await runtime.stop(id, 0.2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(driver.containers[0]?.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(stopped).toMatchObject({ state: 'exited', exitCode: 137, stoppedByUser: true });
    expect(statesOf(id)).toEqual(['created', 'running', 'exited']);
  });

  it('stop uses the spec stop signal and returns as soon as the container exits', async () => {
    const { id } = await create({ stopSignal: 'SIGINT', stopTimeoutSeconds: 30 });
    await runtime.start(id);
    const started = Date.now();
    expect(await runtime.stop(id)).toMatchObject({ state: 'exited', exitCode: 130 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(driver.containers[0]?.signals).toEqual(['SIGINT']);
  });

  it('remove emits removing and dead and deletes the container directory and cgroup', async () => {
    const { id } = await create({});
    await runtime.start(id);
    await expect(runtime.remove(id, false)).rejects.toThrow(ConflictError);
    await runtime.remove(id, true);
    expect(statesOf(id)).toEqual(['created', 'running', 'exited', 'removing', 'dead']);
    expect(existsSync(runtime.dir(id))).toBe(false);
    expect(cgroups.existing.has(id)).toBe(false);
  });

  describe('health (/readyz)', () => {
    const withHelper = (path: string) => (runtime as unknown as { options: { helperPath?: string } }).options.helperPath = path;

    it('is healthy with an executable helper and a readable cgroup hierarchy', async () => {
      const helper = join(root, 'helper');
      writeFileSync(helper, '#!/bin/sh\n');
      chmodSync(helper, 0o755);
      withHelper(helper);
      await expect(runtime.checkHealth()).resolves.toBeUndefined();
    });

    it('is unhealthy when the helper is missing or not executable', async () => {
      withHelper(join(root, 'missing-helper'));
      await expect(runtime.checkHealth()).rejects.toThrow(/missing-helper is missing or not executable/);
      const notExecutable = join(root, 'helper');
      writeFileSync(notExecutable, '');
      chmodSync(notExecutable, 0o644);
      withHelper(notExecutable);
      // root may execute files without x bits only if some x bit is set; 0644 has none.
      await expect(runtime.checkHealth()).rejects.toThrow(/not executable/);
    });

    it('is unhealthy when the cgroup hierarchy cannot be read', async () => {
      const helper = join(root, 'helper');
      writeFileSync(helper, '');
      chmodSync(helper, 0o755);
      withHelper(helper);
      cgroups.list = async () => {
        throw new Error('cgroup v1 controller "memory" is not mounted');
      };
      await expect(runtime.checkHealth()).rejects.toThrow(/cgroup v1 hierarchy unusable: .*memory/);
    });
  });

  describe('bad specs are refused before anything is created', () => {
    const nothingCreated = () => {
      expect(readdirSync(join(root, 'data', 'containers'))).toEqual([]);
      expect(cgroups.created).toEqual([]);
      expect(driver.containers).toEqual([]);
      expect(events).toEqual([]);
    };

    it.each<[string, Partial<ContainerSpecInput>, RegExp]>([
      ['an entrypoint missing from the image', { command: ['/no/such/binary'] }, /no such file in the image/],
      ['a command not on the PATH', { command: ['nosuchcmd'] }, /not found in the image's PATH/],
      ['an unknown user', { user: 'nobody-here' }, /nobody-here/],
      ['a bind source that does not exist', { volumes: [{ kind: 'bind', source: '/does/not/exist', target: '/data' }] }, /does not exist/],
      ['a relative bind source', { volumes: [{ kind: 'bind', source: 'relative/dir', target: '/data' }] }, /absolute path/],
      ['a volume target with ..', { volumes: [{ kind: 'volume', source: 'v1', target: '/data/../etc' }] }, /without \.\./],
      ['an invalid volume name', { volumes: [{ kind: 'volume', source: '../escape', target: '/data' }] }, /invalid volume name/],
      ['published ports with network none', { ports: [{ hostPort: 8080, containerPort: 80 }] }, /need network bridge/],
      ['an unknown capability', { security: { capAdd: ['NET_FOO'] } }, /security\.capAdd\/capDrop: unknown capability "NET_FOO"/],
      ['a ulimit whose soft limit is above the hard one', { security: { ulimits: [{ name: 'nofile', soft: 100, hard: 10 }] } }, /security\.ulimits: nofile soft limit 100/],
    ])('%s', async (_what, input, message) => {
      const attempt = create(input);
      await expect(attempt).rejects.toThrow(InvalidArgumentError);
      await expect(attempt).rejects.toThrow(message);
      nothingCreated();
    });

    it('a name or id already in use (CONFLICT)', async () => {
      const first = await create({}, 'taken');
      await expect(create({}, 'taken')).rejects.toThrow(ConflictError);
      await expect(runtime.create({ id: first.id, name: 'other', spec: spec({}) })).rejects.toThrow(ConflictError);
      expect(readdirSync(join(root, 'data', 'containers'))).toEqual([first.id]);
    });
  });
});

describe('cgroupParentFor', () => {
  it('is stable for one data dir and differs between data dirs, outside the shared muelle/ tree', () => {
    expect(cgroupParentFor('host-a', '/var/lib/muelle')).toBe(cgroupParentFor('host-a', '/var/lib/muelle/'));
    expect(cgroupParentFor('host-a', '/var/lib/muelle')).not.toBe(cgroupParentFor('host-a', '/srv/muelle'));
    expect(cgroupParentFor('host-a', '/var/lib/muelle')).toMatch(/^muelle-agent\/host-a-[0-9a-f]{8}$/);
  });
});
