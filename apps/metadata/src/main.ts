import 'reflect-metadata';
import { runStandalone } from '@muelle/service-kit';
import { metadataConfigSchema } from './config';
import { startMetadata } from './metadata.app';

runStandalone('metadata', metadataConfigSchema, (config, transport, logger, info) => startMetadata(config, transport, logger, info));
