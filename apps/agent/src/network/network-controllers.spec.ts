import type { AgentConfig } from '../config';
import { MeshController } from './mesh.controller';
import { OverlayController } from './overlay.controller';
import type { OverlayNetworks } from './overlay-networks';
import type { RoutingMesh } from './routing-mesh';

/**
 * A host with MUELLE_RUNTIME=disabled runs no routing mesh and no overlay: with root, the mesh's
 * first pass would take the host's mesh table (another platform's, on a shared test machine) for a
 * leftover and remove it; without root it could only fail.
 */
describe('network controllers on a host without a container runtime', () => {
  const loop = () => ({ start: jest.fn(), stop: jest.fn(), networkRemoved: jest.fn(async () => undefined) });

  it.each([
    ['linux', 1, 0],
    ['disabled', 0, 1],
  ] as const)('MUELLE_RUNTIME=%s: the mesh and the overlay start %i time(s), are stopped %i time(s)', async (runtime, starts, stops) => {
    const config = { MUELLE_RUNTIME: runtime } as AgentConfig;
    const mesh = loop();
    const overlay = loop();
    new MeshController(mesh as unknown as RoutingMesh, config).onApplicationBootstrap();
    const overlayController = new OverlayController(overlay as unknown as OverlayNetworks, config);
    overlayController.onApplicationBootstrap();
    await overlayController.networkRemoved({ id: 'a'.repeat(64) });
    for (const subject of [mesh, overlay]) {
      expect(subject.start).toHaveBeenCalledTimes(starts);
      expect(subject.stop).toHaveBeenCalledTimes(stops);
    }
    expect(overlay.networkRemoved).toHaveBeenCalledTimes(starts);
  });
});
