export * from './model';
export * from './subject';
