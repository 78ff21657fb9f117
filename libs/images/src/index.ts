export * from './names';
export * from './platform';
export * from './root-fs';
export * from './users';
export * from './config-defaults';
