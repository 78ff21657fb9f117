import { join } from 'node:path';

/** The files of one container under `<dataDir>/containers/<id>/`. */
export interface ContainerPaths {
  dir: string;
  state: string;
  upper: string;
  work: string;
  rootfs: string;
  logs: string;
  exit: string;
  stdout: string;
  stderr: string;
  stdin: string;
  hosts: string;
  resolv: string;
  hostname: string;
  /** The health check's state (see FileHealthStore). */
  health: string;
}

export function containerPaths(containersDir: string, id: string): ContainerPaths {
  const dir = join(containersDir, id);
  return {
    dir,
    state: join(dir, 'state.json'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    rootfs: join(dir, 'rootfs'),
    logs: join(dir, 'logs'),
    exit: join(dir, 'exit'),
    stdout: join(dir, 'stdout.fifo'),
    stderr: join(dir, 'stderr.fifo'),
    stdin: join(dir, 'stdin.fifo'),
    hosts: join(dir, 'hosts'),
    resolv: join(dir, 'resolv.conf'),
    hostname: join(dir, 'hostname'),
    health: join(dir, 'health.json'),
  };
}
