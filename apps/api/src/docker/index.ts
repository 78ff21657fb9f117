import { DockerArchiveController } from './archive.controller';
import { DockerBuildController } from './build.controller';
import { DockerContainersController } from './containers.controller';
import { DockerExecController } from './exec.controller';
import { DockerHijack } from './hijack';
import { DockerImagesController } from './images.controller';
import { DockerImageArchiveController } from './image-archive.controller';
import { DockerNetworksController } from './networks.controller';
import { DockerVolumesController } from './volumes.controller';
import { DockerSessions, DockerSessionSignals } from './sessions';
import { DockerPingController, DockerSystemController, DockerUnsupportedController } from './system.controller';

/** The Docker Engine API layer: controllers (the catch-all last) and its providers, for ApiModule. */
export const dockerEngineControllers = [
  DockerPingController,
  DockerSystemController,
  DockerContainersController,
  DockerArchiveController,
  DockerExecController,
  DockerImageArchiveController,
  DockerImagesController,
  DockerBuildController,
  DockerNetworksController,
  DockerVolumesController,
  DockerSessionSignals,
  DockerUnsupportedController,
];
export const dockerEngineProviders = [DockerSessions, DockerHijack];
