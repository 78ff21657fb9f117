import 'reflect-metadata';
import { runStandalone } from '@muelle/service-kit';
import { registryConfigSchema } from './config';
import { startRegistry } from './registry.app';

runStandalone('registry', registryConfigSchema, startRegistry);
