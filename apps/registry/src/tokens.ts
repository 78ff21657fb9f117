export const REGISTRY_CONFIG = Symbol('REGISTRY_CONFIG');
export const BLOB_STORE = Symbol('BLOB_STORE');
