import { Command } from 'commander';
import { collect, parseEnv, parseHealthcheck, parseMemory, parseNetworks, parsePairs, parsePidsLimit, parsePublish, parseRestart, parseSecurityOpts, parseUlimit, parseRunVolume } from '../parse';
import { runTerminal } from '../terminal';
import { apiClient, followLogs } from './common';
import type { Io } from '../commands';

/** `muelle run`: create a container where the scheduler places it, start it, and attach or follow its logs. */
export function registerRunCommand(program: Command, io: Io): void {
  program
    .command('run')
    .description('Create and start a container on a host the scheduler picks')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions()
    .option('-d, --detach', 'run in the background and print the id')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('--detach-keys <keys>', 'the keys that detach from -it (then the container keeps running)', 'ctrl-p,ctrl-q')
    .option('--name <name>')
    .option('--rm', 'remove the container when it exits')
    .option('-p, --publish <spec>', '[ip:]hostPort:containerPort[/proto]', collect, [])
    .option('-e, --env <KEY=value>', 'environment variable', collect, [])
    .option('-v, --volume <spec>', 'source:/target[:ro], or /target alone for a new anonymous volume', collect, [])
    .option('-l, --label <key=value>', 'label', collect, [])
    .option('-w, --workdir <dir>')
    .option('-u, --user <user>')
    .option('--entrypoint <cmd>')
    .option('--hostname <name>')
    .option('-m, --memory <bytes>', 'memory limit, e.g. 512m')
    .option('--cpus <n>', 'CPUs, e.g. 1.5')
    .option('--restart <policy>', 'no, always, unless-stopped, on-failure[:n]', 'no')
    .option('--host <id>', 'pin to a host')
    .option('--constraint <key=value>', 'host label that must match', collect, [])
    .option('--network <network>', "bridge, host, none, or one of your team's networks (repeat for several: eth0, eth1… in order)", collect, [])
    .option('--network-alias <name>', "another name of the container on its network (a team's network only)", collect, [])
    .option('--init', 'run an init as PID 1 that forwards signals and reaps zombies')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--cap-add <cap>', 'add a capability (needs a team policy granting it)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability (ALL drops every one)', collect, [])
    .option('--pids-limit <n>', 'most processes the container may have (default: the platform default)')
    .option('--ulimit <name=soft[:hard]>', 'resource limit, e.g. nofile=1024:2048', collect, [])
    .option('--security-opt <opt>', 'seccomp=unconfined (needs a team policy), no-new-privileges (always on)', collect, [])
    .option('--health-cmd <command>', 'health check run in the container by /bin/sh -c (overrides the image HEALTHCHECK)')
    .option('--health-interval <duration>', 'time between checks, e.g. 30s')
    .option('--health-timeout <duration>', 'a check running longer fails')
    .option('--health-start-period <duration>', 'failures in this time after start do not count')
    .option('--health-retries <n>', 'failures in a row before unhealthy')
    .option('--no-healthcheck', "disable the image's HEALTHCHECK")
    .action(async (image: string, command: string[], o) => {
      const api = apiClient();
      const body = {
        image,
        name: o.name,
        command: command.length ? command : undefined,
        entrypoint: o.entrypoint !== undefined ? [o.entrypoint] : undefined,
        env: parseEnv(o.env),
        workingDir: o.workdir,
        user: o.user,
        hostname: o.hostname,
        tty: !!o.tty,
        openStdin: !!o.interactive,
        // Attached, the end of our input is the container's (docker run -i); detached it stays open.
        stdinOnce: !!o.interactive && !o.detach,
        ports: o.publish.map(parsePublish),
        volumes: o.volume.map(parseRunVolume),
        ...parseNetworks(o.network, o.networkAlias),
        resources: {
          memoryBytes: o.memory ? parseMemory(o.memory) : undefined,
          cpus: o.cpus ? Number(o.cpus) : undefined,
          pidsLimit: o.pidsLimit !== undefined ? parsePidsLimit(o.pidsLimit) : undefined,
        },
        init: !!o.init,
        security: {
          readOnly: !!o.readOnly,
          capAdd: o.capAdd,
          capDrop: o.capDrop,
          ulimits: o.ulimit.map(parseUlimit),
          seccomp: parseSecurityOpts(o.securityOpt),
        },
        restartPolicy: parseRestart(o.restart),
        labels: parsePairs(o.label, 'label'),
        placement: {
          hostId: o.host,
          constraints: parsePairs(o.constraint, 'constraint'),
        },
        healthcheck: parseHealthcheck(o),
        // In the foreground the CLI removes it after reading its output and exit code (as docker's
        // client does); detached, the agent removes it when it exits.
        autoRemove: !!o.rm && !!o.detach,
        start: true,
      };
      const created = await api.request('POST', '/v1/containers', { body });
      if (o.detach) return void io.out.write(`${created.id}\n`);
      let exitCode: number;
      if (o.interactive || o.tty) {
        const ws = await api.websocket(`/v1/containers/${created.id}/attach/ws`, {
          stdin: o.interactive ? 1 : undefined,
          // It started before we attach: what it printed meanwhile (a prompt) comes first.
          fromStart: 1,
          detachKeys: o.detachKeys,
          rows: io.out.rows,
          cols: io.out.columns,
        });
        let detached = false;
        exitCode = await runTerminal(ws, {
          tty: !!o.tty,
          stdin: !!o.interactive,
          output: io.out,
          errorOutput: io.err,
          onDetached: () => (detached = true),
        });
        // Detached, the container runs on (as with docker): nothing to remove, no exit code of its own.
        if (detached) {
          if (o.rm) io.err.write(`${created.id} keeps running; remove it with: muelle rm -f ${created.id}\n`);
          return void (io.exitCode = 0);
        }
      } else {
        // Asked at once, not after the output ended: the exit code is ready when the output is, and
        // `run … true` saves a round trip through the api and the agent.
        const waited = api.request('POST', `/v1/containers/${created.id}/wait`);
        // A failed output stream rejects first; the wait's own failure is then not the one to show.
        waited.catch(() => undefined);
        await followLogs(api, io, created.id, { follow: true });
        exitCode = (await waited).exitCode;
      }
      if (o.rm)
        await api
          .request('DELETE', `/v1/containers/${created.id}`, {
            // As docker run --rm: its anonymous volumes go with it.
            query: { force: true, volumes: true },
          })
          .catch((error) => void io.err.write(`Error response from daemon: ${(error as Error).message}\n`));
      io.exitCode = exitCode;
    });
}
