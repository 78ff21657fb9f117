export const AGENT_CONFIG = Symbol('AGENT_CONFIG');
export const RUNTIME = Symbol('RUNTIME');
export const EXEC_MANAGER = Symbol('EXEC_MANAGER');
export const IMAGE_STORE = Symbol('IMAGE_STORE');
export const VOLUME_STORE = Symbol('VOLUME_STORE');
export const OVERLAY = Symbol('OVERLAY');
export const USER_NETWORKS = Symbol('USER_NETWORKS');
export const ROUTING_MESH = Symbol('ROUTING_MESH');
