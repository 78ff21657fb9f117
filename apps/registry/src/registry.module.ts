import { DynamicModule, Inject, MiddlewareConsumer, Module, NestModule, OnApplicationBootstrap, RequestMethod } from '@nestjs/common';
import { diskSpaceCheck, ReadinessRegistry, ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import type { BlobStore } from '@muelle/storage';
import { RegistryAudit } from './auth/registry-audit';
import { RegistryAuthService } from './auth/registry-auth.service';
import { RegistryAccountEventsListener, RegistryCredentials } from './auth/registry-credentials';
import { BlobsService } from './blobs/blobs.service';
import { RegistryConfig } from './config';
import { GarbageCollectorController } from './gc/garbage-collector.controller';
import { GarbageCollectorService } from './gc/garbage-collector.service';
import { V2Middleware } from './http/v2.middleware';
import { RegistryMetrics } from './http/registry-metrics';
import { ManifestsService } from './manifests/manifests.service';
import { registryBlobRoot } from './storage/blob-store.provider';
import { BLOB_STORE, REGISTRY_CONFIG } from './tokens';

class StorageReadiness implements OnApplicationBootstrap {
  constructor(
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.readiness.register('storage', () => this.store.ping());
    // S3 reports its own full drives (StorageFullError on write); only our own disk can be measured.
    if (this.store.kind === 'filesystem') {
      this.readiness.register('disk', diskSpaceCheck(registryBlobRoot(this.config), this.config.MUELLE_MIN_FREE_BYTES));
    }
  }
}

@Module({})
export class RegistryModule implements NestModule {
  static forRoot(config: RegistryConfig, kit: ServiceKitOptions, store: BlobStore): DynamicModule {
    return {
      module: RegistryModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [RegistryAccountEventsListener, GarbageCollectorController],
      providers: [
        { provide: REGISTRY_CONFIG, useValue: config },
        { provide: BLOB_STORE, useValue: store },
        StorageReadiness,
        RegistryAuthService,
        RegistryAudit,
        RegistryCredentials,
        BlobsService,
        ManifestsService,
        GarbageCollectorService,
        V2Middleware,
        RegistryMetrics,
      ],
      exports: [GarbageCollectorService],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // Every path: the middleware itself picks /v2 targets by their raw form and passes the rest on.
    consumer.apply(V2Middleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
