import { DynamicModule, Module } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { allocateHostSubnet, containerHealthChanged, containerStateChanged, listNetworks, meshRecord, networkNames, overlayPeers } from '@muelle/contracts';
import { detectCgroupDriver, HostFs, LinuxIsolationDriver } from '@muelle/isolation';
import { insecureRegistriesOf, LOGGER, ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import type { Logger } from 'pino';
import { agentControllerFor } from './agent.controller';
import { AgentConfig, underlayAddressOf } from './config';
import { cgroupParentFor } from './containers/cgroup-scope';
import { ContainerRuntime } from './containers/container-runtime';
import { ExecManager } from './containers/exec-manager';
import { HealthMonitor } from './containers/health/health-monitor';
import { FileHealthStore } from './containers/health/health-store';
import { containerPaths } from './containers/container-paths';
import { RuntimeLifecycle } from './containers/runtime.service';
import { HostRegistrationService } from './host/host-registration.service';
import { ImageStore } from './images/image-store';
import { UserNetworks } from './network/user-networks';
import { parseUpstreams } from './network/dns/dns-server';
import { NetworkResolvers } from './network/dns/network-resolvers';
import { OverlayNetworks } from './network/overlay-networks';
import { OverlayController } from './network/overlay.controller';
import { MeshController } from './network/mesh.controller';
import { RoutingMesh } from './network/routing-mesh';
import { BridgeNetwork } from './network/bridge-network';
import { resolveBridgeSubnet } from './network/bridge-subnet';
import { AGENT_CONFIG, EXEC_MANAGER, IMAGE_STORE, OVERLAY, ROUTING_MESH, RUNTIME, USER_NETWORKS, VOLUME_STORE } from './tokens';
import { VolumeStore } from './volumes/volume-store';
import { ImagePullMetrics } from './images/image-pull-metrics';

@Module({})
export class AgentModule {
  static forRoot(config: AgentConfig, kit: ServiceKitOptions): DynamicModule {
    const dataDir = resolve(config.MUELLE_DATA_DIR);
    const hostFs = new HostFs();
    const driver = new LinuxIsolationDriver();
    const images = new ImageStore(dataDir, config.MUELLE_REGISTRY_ADDRESS, hostFs, undefined, insecureRegistriesOf(config.MUELLE_INSECURE_REGISTRIES));
    const volumes = new VolumeStore(dataDir);
    let overlay: OverlayNetworks | undefined;
    return {
      module: AgentModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [agentControllerFor(config.MUELLE_HOST_ID), OverlayController, MeshController],
      providers: [
        { provide: AGENT_CONFIG, useValue: config },
        HostRegistrationService,
        { provide: IMAGE_STORE, useValue: images },
        ImagePullMetrics,
        { provide: VOLUME_STORE, useValue: volumes },
        {
          provide: 'BRIDGE',
          inject: [BusClient, LOGGER],
          useFactory: (bus: BusClient, logger: Logger) => {
            const ipamFile = join(dataDir, 'network', 'ipam.json');
            const subnet = () =>
              resolveBridgeSubnet({
                configured: config.MUELLE_BRIDGE_SUBNET,
                file: join(dataDir, 'network', 'subnet.json'),
                ipamFile,
                bridge: config.MUELLE_BRIDGE_NAME,
                hostId: config.MUELLE_HOST_ID,
                allocate: (request) => bus.request(allocateHostSubnet, request),
                logger,
              });
            return new BridgeNetwork(config.MUELLE_BRIDGE_NAME, subnet, ipamFile, config.MUELLE_NETWORK_FIREWALL);
          },
        },
        {
          provide: NetworkResolvers,
          inject: [BusClient, LOGGER],
          useFactory: (bus: BusClient, logger: Logger) =>
            new NetworkResolvers({
              names: async (networkId) => (await bus.request(networkNames, { networkId })).items,
              upstreams: parseUpstreams(config.MUELLE_DNS_UPSTREAM, readHostResolvConf()),
              logger,
            }),
        },
        {
          provide: USER_NETWORKS,
          inject: [NetworkResolvers],
          useFactory: (resolvers: NetworkResolvers) =>
            new UserNetworks(join(dataDir, 'network'), config.MUELLE_NETWORK_FIREWALL, {
              overlayMtu: () => (overlay ? overlay.containerMtu() : Promise.reject(new Error('overlay networks are not set up yet'))),
              resolvers,
            }),
        },
        {
          provide: OVERLAY,
          inject: [BusClient, LOGGER, USER_NETWORKS],
          useFactory: (bus: BusClient, logger: Logger, userNetworks: UserNetworks) =>
            (overlay = new OverlayNetworks(
              {
                hostId: config.MUELLE_HOST_ID,
                underlayAddress: underlayAddressOf(config),
                port: config.MUELLE_VXLAN_PORT,
                reconcileSeconds: config.MUELLE_OVERLAY_RECONCILE_SECONDS,
                firewallPreference: config.MUELLE_NETWORK_FIREWALL,
                peers: (networkIds) => bus.request(overlayPeers, { hostId: config.MUELLE_HOST_ID, networkIds }),
                liveNetworkIds: async () => (await bus.request(listNetworks, {})).items.map((n) => n.id),
                logger,
              },
              userNetworks,
            )),
        },
        {
          provide: RUNTIME,
          // OVERLAY first: user networks ask it for their containers' MTU.
          inject: [BusClient, LOGGER, 'BRIDGE', OVERLAY, USER_NETWORKS],
          useFactory: async (bus: BusClient, logger: Logger, network: BridgeNetwork, _overlay: OverlayNetworks, userNetworks: UserNetworks) =>
            new ContainerRuntime({
              hostId: config.MUELLE_HOST_ID,
              dataDir,
              driver,
              cgroups: config.MUELLE_RUNTIME === 'disabled' ? (undefined as never) : await detectCgroupDriver({ parent: cgroupParentFor(config.MUELLE_HOST_ID, dataDir) }),
              hostFs,
              images,
              volumes,
              network,
              userNetworks,
              logRotation: { maxBytes: config.MUELLE_LOG_MAX_BYTES, maxFiles: config.MUELLE_LOG_MAX_FILES },
              emit: (change) => void bus.emit(containerStateChanged, change).catch((error: unknown) => logger.warn({ err: error }, 'state event lost')),
              logger,
            }),
        },
        {
          provide: EXEC_MANAGER,
          inject: [RUNTIME, BusClient, LOGGER],
          useFactory: (runtime: ContainerRuntime, bus: BusClient, logger: Logger) => {
            const execs = new ExecManager(runtime, driver, () => bus.streams());
            // Health probes go through the exec path, so they get exactly an exec's isolation.
            runtime.useHealthMonitor(
              new HealthMonitor({
                hostId: config.MUELLE_HOST_ID,
                probe: (id, args, timeoutMs) => execs.probe(id, args, timeoutMs),
                emit: (change) => void bus.emit(containerHealthChanged, change).catch((error: unknown) => logger.warn({ err: error }, 'health event lost')),
                logger,
                store: new FileHealthStore((id) => containerPaths(join(dataDir, 'containers'), id).health, logger),
              }),
            );
            return execs;
          },
        },
        {
          provide: ROUTING_MESH,
          inject: [BusClient, LOGGER, RUNTIME],
          useFactory: (bus: BusClient, logger: Logger, runtime: ContainerRuntime) =>
            new RoutingMesh({
              hostId: config.MUELLE_HOST_ID,
              reconcileSeconds: config.MUELLE_MESH_RECONCILE_SECONDS,
              firewallPreference: config.MUELLE_NETWORK_FIREWALL,
              record: () => bus.request(meshRecord, {}),
              localAddresses: () => new Map(runtime.all().flatMap((r) => (r.state === 'running' && r.ipAddress ? [[r.id, r.ipAddress] as const] : []))),
              logger,
            }),
        },
        RuntimeLifecycle,
      ],
    };
  }
}

/** Read once at start: the host's resolvers, where names that are not the platform's go. */
function readHostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return ''; // no resolv.conf: no upstream, such names are refused
  }
}
