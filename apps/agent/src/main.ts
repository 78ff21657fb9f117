import 'reflect-metadata';
import { runStandalone } from '@muelle/service-kit';
import { agentConfigSchema } from './config';
import { startAgent } from './agent.app';

runStandalone('agent', agentConfigSchema, startAgent);
