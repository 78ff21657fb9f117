// Test helpers shared by integration and e2e tests. Never imported by production code.
export * from './ports';
export * from './tcp-proxy';
export * from './processes';
export * from './http';
export * from './postgres';
export * from './distribution-registry';
export * from './commands';
export * from './nats';
export * from './certificates';
export * from './json-shape';
