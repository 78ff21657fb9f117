import { InitialSchema1764300000000 } from './1764300000000-InitialSchema';
import { ContainerStateClock1764300000001 } from './1764300000001-ContainerStateClock';
import { RegistryGarbageCollection1764400000000 } from './1764400000000-RegistryGarbageCollection';
import { RegistryWriteFunctions1764500000000 } from './1764500000000-RegistryWriteFunctions';
import { ViewerRoleSharedRepositories1764600000000 } from './1764600000000-ViewerRoleSharedRepositories';
import { AccountsAndLogins1764600100000 } from './1764600100000-AccountsAndLogins';
import { TeamPoliciesAndQuotas1764600200000 } from './1764600200000-TeamPoliciesAndQuotas';
import { RegistryTeamQuota1764600200001 } from './1764600200001-RegistryTeamQuota';
import { DropUploadHashState1764600700000 } from './1764600700000-DropUploadHashState';
import { SubnetAllocations1764700100000 } from './1764700100000-SubnetAllocations';
import { BuildRecords1764700300000 } from './1764700300000-BuildRecords';
import { HostNotReady1764700300001 } from './1764700300001-HostNotReady';
import { ContainerHealth1764700700000 } from './1764700700000-ContainerHealth';
import { ServicesAndLeases1764700700001 } from './1764700700001-ServicesAndLeases';
import { PlatformEvents1764840000000 } from './1764840000000-PlatformEvents';
import { Networks1764850000000 } from './1764850000000-Networks';
import { PlacementGeneration1764860000000 } from './1764860000000-PlacementGeneration';
import { Volumes1765000000000 } from './1765000000000-Volumes';
import { ContainerListIndexes1765030000000 } from './1765030000000-ContainerListIndexes';
import { ServiceEvents1765070000000 } from './1765070000000-ServiceEvents';
import { ServiceUpdateFailures1765070000001 } from './1765070000001-ServiceUpdateFailures';
import { ServiceRestartPolicy1765091000000 } from './1765091000000-ServiceRestartPolicy';
import { ServicePorts1765091000001 } from './1765091000001-ServicePorts';
import { TaskDraining1765091000002 } from './1765091000002-TaskDraining';
import { OverlayVni1765020000000 } from './1765020000000-OverlayVni';
import { ContainerLabelIndex1765094000000 } from './1765094000000-ContainerLabelIndex';

/** Every migration, oldest first. A new schema change is a new file added here, never an edit. */
export const migrations = [
  InitialSchema1764300000000,
  ContainerStateClock1764300000001,
  RegistryGarbageCollection1764400000000,
  RegistryWriteFunctions1764500000000,
  ViewerRoleSharedRepositories1764600000000,
  AccountsAndLogins1764600100000,
  TeamPoliciesAndQuotas1764600200000,
  RegistryTeamQuota1764600200001,
  DropUploadHashState1764600700000,
  SubnetAllocations1764700100000,
  BuildRecords1764700300000,
  HostNotReady1764700300001,
  ContainerHealth1764700700000,
  ServicesAndLeases1764700700001,
  PlatformEvents1764840000000,
  Networks1764850000000,
  PlacementGeneration1764860000000,
  Volumes1765000000000,
  OverlayVni1765020000000,
  ContainerListIndexes1765030000000,
  ServiceEvents1765070000000,
  ServiceUpdateFailures1765070000001,
  ServiceRestartPolicy1765091000000,
  ServicePorts1765091000001,
  TaskDraining1765091000002,
  ContainerLabelIndex1765094000000,
];
