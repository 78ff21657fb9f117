import { isIP } from 'node:net';
import { DynamicModule, Module } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { detectCgroupDriver, LinuxIsolationDriver } from '@muelle/isolation';
import { insecureRegistriesOf, LOGGER, ServiceKitModule, ServiceKitOptions, ServiceMetrics } from '@muelle/service-kit';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { BuilderStore } from './dockerfile-build/store';
import { BuildsController } from './builds/builds.controller';
import { BuildCacheController } from './builds/build-cache.controller';
import { BuildsService } from './builds/builds.service';
import { BuildMetrics } from './builds/build-metrics';
import { builderIdOf, MetadataBuildRecords } from './builds/build-records';
import { InterruptedBuilds } from './builds/interrupted-builds';

import type { BuilderConfig } from './config';

@Module({})
export class BuilderModule {
  static forRoot(kit: ServiceKitOptions, config: BuilderConfig): DynamicModule {
    return {
      module: BuilderModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [BuildsController, BuildCacheController],
      providers: [
        {
          provide: MetadataBuildRecords,
          inject: [BusClient],
          useFactory: async (bus: BusClient) => {
            const dir = path.join(path.resolve(config.MUELLE_DATA_DIR), 'builder');
            await fs.mkdir(dir, { recursive: true, mode: 0o700 });
            return new MetadataBuildRecords(bus, await builderIdOf(dir));
          },
        },
        InterruptedBuilds,
        {
          provide: BuildsService,
          inject: [BusClient, LOGGER, MetadataBuildRecords, ServiceMetrics],
          useFactory: async (bus: BusClient, logger: Logger, records: MetadataBuildRecords, metrics: ServiceMetrics) => {
            const store = await BuilderStore.open(path.join(path.resolve(config.MUELLE_DATA_DIR), 'builder'));
            const cgroups = await detectCgroupDriver().catch((error) => {
              logger.warn({ err: error }, 'no cgroup driver: RUN steps run without their own cgroup');
              return undefined;
            });
            return new BuildsService({
              store,
              isolation: new LinuxIsolationDriver(),
              cgroups,
              contextLimits: { idleTimeoutMs: config.MUELLE_BUILD_CONTEXT_IDLE_SECONDS * 1000, maxBytes: config.MUELLE_BUILD_CONTEXT_MAX_BYTES },
              streams: () => bus.streams(),
              defaultRegistry: config.MUELLE_REGISTRY_ADDRESS,
              insecureRegistries: insecureRegistriesOf(config.MUELLE_INSECURE_REGISTRIES, config.MUELLE_BUILDER_INSECURE_REGISTRIES),
              urlPolicy: { allowPrivateNetworks: config.MUELLE_BUILD_ALLOW_PRIVATE_NETWORKS, platformAddresses: platformAddresses(config.MUELLE_REGISTRY_ADDRESS) },
              records,
              metrics: new BuildMetrics(metrics),
              logger: logger.child({ component: 'builds' }),
            });
          },
        },
      ],
    };
  }
}

/** The registry's address when it is given as an IP (a name is covered by the host and private-range rules). */
function platformAddresses(registryAddress: string): string[] {
  const host = registryAddress.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return isIP(host) ? [host] : [];
}
