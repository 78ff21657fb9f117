export * from './errors';
export * from './grammar';
export * from './digest';
export * from './reference';
export * from './media-types';
export * from './manifest';
export * from './layer-apply';
export * from './layer-write';
