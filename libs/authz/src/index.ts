export * from './model';
export * from './subject';
export * from './host-options';
