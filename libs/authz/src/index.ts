export * from './model';
export * from './subject';
export * from './decide';
export * from './decide-errors';
export * from './decide-repository';
export * from './token-scopes';
export * from './credential-cache';
export * from './host-options';
