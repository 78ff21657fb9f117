export const LOGGER = Symbol('LOGGER');
export const SERVICE_INFO = Symbol('SERVICE_INFO');

export interface ServiceInfo {
  service: 'api' | 'registry' | 'builder' | 'agent' | 'metadata';
  instance: string;
  version: string;
}
