export * from './errors';
export * from './contract';
export * from './common';
export * from './system/ping.contract';
export * from './hosts/hosts.contracts';
export * from './users/users.contracts';
export * from './containers/container.schemas';
export * from './containers/containers.contracts';
