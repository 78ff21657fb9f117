import 'reflect-metadata';
import { runStandalone } from '@muelle/service-kit';
import { apiConfigSchema } from './config';
import { startApi } from './api.app';

runStandalone('api', apiConfigSchema, startApi);
