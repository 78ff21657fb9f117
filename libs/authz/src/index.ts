export * from './model';
export * from './subject';
export * from './token-scopes';
export * from './credential-cache';
