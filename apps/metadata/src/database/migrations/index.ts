import { InitialSchema1764300000000 } from './1764300000000-InitialSchema';
import { ContainerStateClock1764300000001 } from './1764300000001-ContainerStateClock';
import { RegistryGarbageCollection1764400000000 } from './1764400000000-RegistryGarbageCollection';
import { RegistryWriteFunctions1764500000000 } from './1764500000000-RegistryWriteFunctions';
import { DropUploadHashState1764600700000 } from './1764600700000-DropUploadHashState';

/** Every migration, oldest first. A new schema change is a new file added here, never an edit. */
export const migrations = [InitialSchema1764300000000, ContainerStateClock1764300000001, RegistryGarbageCollection1764400000000, RegistryWriteFunctions1764500000000, DropUploadHashState1764600700000];
