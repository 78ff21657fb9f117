export const AGENT_CONFIG = Symbol('AGENT_CONFIG');
