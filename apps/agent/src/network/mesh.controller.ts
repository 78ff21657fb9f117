import { Controller, Inject, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HandleEvent } from '@muelle/bus';
import { containerHealthChanged, containerStateChanged, tasksDraining } from '@muelle/contracts';
import { AgentConfig } from '../config';
import { AGENT_CONFIG, ROUTING_MESH } from '../tokens';
import { RoutingMesh } from './routing-mesh';

/**
 * Every agent hears every host's container state and health changes and the tasks leaving the mesh
 * (metadata's tasksDraining; outside the agents' queue group) and reconciles its routing mesh from
 * the platform's record; the periodic pass heals a missed event. A host with MUELLE_RUNTIME=disabled
 * (no root) keeps out of it: it could not write the rules, and its passes would only fail or, with
 * root, take the host's mesh table for a previous run's and remove it.
 */
@Controller()
export class MeshController implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(ROUTING_MESH) private readonly mesh: RoutingMesh,
    @Inject(AGENT_CONFIG) private readonly config: AgentConfig,
  ) {}

  onApplicationBootstrap() {
    // Stopped, events ask for no pass either.
    if (this.config.MUELLE_RUNTIME === 'disabled') this.mesh.stop();
    else this.mesh.start();
  }

  onModuleDestroy() {
    this.mesh.stop();
  }

  @HandleEvent(containerStateChanged, { everyReplica: true })
  stateChanged() {
    this.mesh.changed();
  }

  @HandleEvent(containerHealthChanged, { everyReplica: true })
  healthChanged() {
    this.mesh.changed();
  }

  @HandleEvent(tasksDraining, { everyReplica: true })
  tasksDraining() {
    this.mesh.changed();
  }
}
