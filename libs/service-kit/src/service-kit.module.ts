import { Controller, DynamicModule, Global, Inject, Module, OnApplicationBootstrap } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { BusClient, BusTransport, HandleRequest, createBusClientProxy } from '@muelle/bus';
import { pingContract, ServiceName } from '@muelle/contracts';
import type { Logger } from 'pino';
import { HealthController } from './health.controller';
import { HttpErrorFilter } from './http-errors';
import { ServiceMetrics } from './metrics';
import { ReadinessRegistry } from './readiness';
import { LOGGER, SERVICE_INFO, ServiceInfo } from './tokens';

export interface ServiceKitOptions {
  info: ServiceInfo;
  transport: BusTransport;
  logger: Logger;
}

/** Answers `muelle.<service>.ping.v1`, which /readyz of every replica uses to prove the bus works end to end. */
function pingControllerFor(service: ServiceName) {
  @Controller()
  class PingController {
    constructor(@Inject(SERVICE_INFO) private readonly info: ServiceInfo) {}

    @HandleRequest(pingContract(service))
    ping() {
      return { service: this.info.service, instance: this.info.instance, time: new Date().toISOString() };
    }
  }
  return PingController;
}

class BusReadiness implements OnApplicationBootstrap {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly bus: BusClient,
    private readonly info: ServiceInfo,
  ) {}

  onApplicationBootstrap() {
    this.readiness.register('bus', async () => {
      await this.bus.request(pingContract(this.info.service), { from: this.info.instance }, { timeoutMs: 1_500 });
    });
  }
}

/**
 * What every Muelle service shares: identity, logger, metrics, the bus client,
 * /healthz, /readyz, /metrics and the error → HTTP mapping.
 */
@Global()
@Module({})
export class ServiceKitModule {
  static forRoot(options: ServiceKitOptions): DynamicModule {
    const metrics = new ServiceMetrics(options.info.service);
    return {
      module: ServiceKitModule,
      controllers: [HealthController, pingControllerFor(options.info.service)],
      providers: [
        { provide: SERVICE_INFO, useValue: options.info },
        { provide: LOGGER, useValue: options.logger },
        { provide: ServiceMetrics, useValue: metrics },
        ReadinessRegistry,
        { provide: BusClient, useFactory: () => new BusClient(createBusClientProxy(options.transport, options.info.service), metrics) },
        {
          provide: BusReadiness,
          useFactory: (r: ReadinessRegistry, b: BusClient) => new BusReadiness(r, b, options.info),
          inject: [ReadinessRegistry, BusClient],
        },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
      ],
      exports: [SERVICE_INFO, LOGGER, ServiceMetrics, ReadinessRegistry, BusClient],
    };
  }
}
