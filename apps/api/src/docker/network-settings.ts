import { endpointMac } from '@muelle/contracts';
import type { ContainerView } from '../containers/containers.service';

/** One entry of dockerd's `NetworkSettings.Networks`. */
export interface DockerEndpointSettings {
  IPAMConfig: null;
  Links: null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: null;
}

const EMPTY: Omit<DockerEndpointSettings, 'Aliases' | 'NetworkID'> = {
  IPAMConfig: null,
  Links: null,
  EndpointID: '',
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  MacAddress: '',
  DriverOpts: null,
};

/**
 * `NetworkSettings.Networks` as dockerd shapes it: one entry per network the container is on,
 * keyed by the network's name. On a user network the aliases are the container's own plus its
 * short id, as dockerd adds it (compose reads that alias to tell that a container it created is
 * already connected); addresses only while it runs.
 */
export function dockerNetworks(view: ContainerView): Record<string, DockerEndpointSettings> {
  const running = view.runtime?.state === 'running';
  const networks: Record<string, DockerEndpointSettings> = {};
  if (view.spec.network !== 'bridge') return networks;
  if (!view.spec.networks.length) {
    const ip = view.runtime?.ipAddress ?? '';
    networks.bridge = { ...EMPTY, Aliases: null, NetworkID: 'muelle-bridge', IPAddress: ip, MacAddress: running ? (view.runtime?.macAddress ?? '') : '' };
    return networks;
  }
  for (const endpoint of view.spec.networks) {
    networks[endpoint.name] = {
      ...EMPTY,
      Aliases: [...(endpoint.aliases ?? []), view.id.slice(0, 12)],
      NetworkID: endpoint.id,
      ...(running
        ? {
            EndpointID: endpoint.id.slice(0, 32) + view.id.slice(0, 32),
            Gateway: endpoint.gateway ?? '',
            IPAddress: endpoint.address ?? '',
            IPPrefixLen: Number(endpoint.subnet?.split('/')[1] ?? 0),
            // The agent makes each endpoint's MAC from the two ids (endpointMac); the runtime reports the first's.
            MacAddress: endpointMac(view.id, endpoint.id),
          }
        : {}),
    };
  }
  return networks;
}
