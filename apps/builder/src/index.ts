// What the all-in-one process needs to host this service; nothing else may import an app.
export * from './config';
export * from './builder.app';
