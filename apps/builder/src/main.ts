import 'reflect-metadata';
import { runStandalone } from '@muelle/service-kit';
import { builderConfigSchema } from './config';
import { startBuilder } from './builder.app';

runStandalone('builder', builderConfigSchema, startBuilder);
