export * from './in-process-broker';
export * from './in-process.transport';
export * from './transport';
export * from './bus-client';
export * from './handlers';
export * from './streams';
export * from './byte-channel';
export * from './stream-credit';
