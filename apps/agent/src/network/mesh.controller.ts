import { Controller, Inject, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HandleEvent } from '@muelle/bus';
import { containerHealthChanged, containerStateChanged, tasksDraining } from '@muelle/contracts';
import { ROUTING_MESH } from '../tokens';
import { RoutingMesh } from './routing-mesh';

/**
 * Every agent hears every host's container state and health changes and the tasks leaving the mesh
 * (metadata's tasksDraining; outside the agents' queue group) and reconciles its routing mesh from
 * the platform's record; the periodic pass heals a missed event.
 */
@Controller()
export class MeshController implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(ROUTING_MESH) private readonly mesh: RoutingMesh) {}

  onApplicationBootstrap() {
    this.mesh.start();
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
