import { ReadinessRegistry } from '@muelle/service-kit';
import { UnavailableError } from '@muelle/contracts';
import pino from 'pino';
import type { AgentConfig } from '../config';
import type { BridgeNetwork } from '../network/bridge-network';
import type { ImageStore } from '../images/image-store';
import type { VolumeStore } from '../volumes/volume-store';
import type { ContainerRuntime } from './container-runtime';
import { RuntimeLifecycle } from './runtime.service';

/**
 * The reason a host registers as unable to make containers (issue 17: with unusable cgroups the
 * agent answered every create with an internal error and kept being chosen). The registration
 * sends `notReadyReason()`; the scheduler skips a host that has one (scheduler.spec.ts,
 * not-ready-host.int-spec.ts) and e2e/control-plane/multi-host hides the cgroups of a real agent.
 */
describe('RuntimeLifecycle.notReadyReason', () => {
  const logger = pino({ level: 'silent' });
  const store = { init: async () => undefined };
  const network = { init: async () => undefined } as unknown as BridgeNetwork;
  const config = { MUELLE_RUNTIME: 'linux' } as AgentConfig;

  const lifecycle = (runtime: Partial<ContainerRuntime>, readiness = new ReadinessRegistry()) =>
    new RuntimeLifecycle(
      { unavailable: () => undefined, init: async () => undefined, all: () => [], ...runtime } as unknown as ContainerRuntime,
      store as unknown as ImageStore,
      store as unknown as VolumeStore,
      network,
      config,
      logger,
      readiness,
    );
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('is the cgroup failure the runtime reports once started, and none while it starts or when healthy', async () => {
    let init!: () => void;
    let healthy = true;
    const subject = lifecycle({
      init: () => new Promise<void>((resolve) => (init = resolve)),
      checkHealth: async () => {
        if (!healthy) throw new UnavailableError('cgroup v1 hierarchy unusable: cgroup v1 controller "memory" is not mounted');
      },
    });
    await subject.onApplicationBootstrap();
    await settle();
    healthy = false;
    // Still re-adopting: requests wait for it, so it is not a reason to skip the host.
    expect(await subject.notReadyReason()).toBeNull();
    init();
    await settle();
    expect(await subject.notReadyReason()).toBe('cgroup v1 hierarchy unusable: cgroup v1 controller "memory" is not mounted');
    healthy = true;
    expect(await subject.notReadyReason()).toBeNull();
  });

  it('is the start failure when the runtime could not start, and the same failure makes /readyz red', async () => {
    const readiness = new ReadinessRegistry();
    let told = '';
    const subject = lifecycle(
      {
        init: async () => {
          throw new Error('cgroup v2 hierarchy unusable: EACCES');
        },
        unavailable: (reason: string) => void (told = reason),
      },
      readiness,
    );
    await subject.onApplicationBootstrap();
    await settle();
    expect(await subject.notReadyReason()).toBe('container runtime failed to start: cgroup v2 hierarchy unusable: EACCES');
    expect(told).toBe('cgroup v2 hierarchy unusable: EACCES');
    const report = await readiness.run();
    expect(report.ready).toBe(false);
    expect(report.checks.runtime).toContain('cgroup v2 hierarchy unusable: EACCES');
  });
});
