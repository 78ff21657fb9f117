import { describeBuildProgress } from '@muelle/contracts/builds/progress-text';
import { MUELLE_VERSION } from '@muelle/contracts/version';
import { Argument, Command, Option } from 'commander';
import { ApiClient } from './client';
import { packContext } from './context';
import { loadConfig, normalizeApi, saveLogin } from './config';
import { CliError } from './errors';
import { ago, containerStatus, humanBinary, humanSize, ports, shortId, table } from './format';
import { registerTeamAdminCommands } from './commands/team-admin';
import { collect, parseEnv, parseHealthcheck, parseMemory, parsePairs, parsePidsLimit, parsePublish, parseRestart, parseSecurityOpts, parseTimeBound, parseUlimit, parseVolume } from './parse';
import { ProgressDisplay } from './progress';
import { runTerminal } from './terminal';
import { registerUserCommands } from './commands/users';
import { registerTokenCommands } from './commands/tokens';
import { registerTeamCommands } from './commands/teams';
import { registerSystemCommands } from './commands/system';
import { registerContextCommands } from './commands/contexts';
import { registerContainerCommands } from './commands/containers';
import { registerDockerEnvCommand, writeDockerConfig } from './commands/docker-env';
import { registerCompletionCommand } from './commands/completion';
import { loginCredentials } from './commands/login';
import { registerServiceCommands } from './commands/services';
import { registerStackCommands } from './commands/stacks';
import { registerNetworkCommands } from './commands/networks';


export interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  /** Set by commands that end with a specific code (run, exec). */
  exitCode: number;
}

const formatOption = () => new Option('--format <format>', 'output format: table or json').choices(['table', 'json']).default('table');
const client = () => new ApiClient(loadConfig());
const json = (io: Io, value: unknown): void => void io.out.write(JSON.stringify(value, null, 2) + '\n');

/** Runs `action` for each name, like docker: prints each name done, reports failures, exits 1 if any failed. */
async function eachContainer(io: Io, names: string[], action: (name: string) => Promise<unknown>) {
  let failed = false;
  for (const name of names) {
    try {
      await action(name);
      io.out.write(`${name}\n`);
    } catch (error) {
      failed = true;
      io.err.write(`Error response from daemon: ${(error as Error).message}\n`);
    }
  }
  if (failed) io.exitCode = 1;
}

export function buildProgram(io: Io): Command {
  const program = new Command('muelle')
    .description('Muelle: run containers across your hosts')
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
    })
    .exitOverride();

  program
    .command('login')
    .description('Trade a username and password for an API token and store it in the current context')
    .argument('[api]', 'API URL (default: MUELLE_API or the current context\'s)')
    .option('-u, --username <username>', 'asked for on a terminal when missing')
    .option('-p, --password <password>', 'visible in the shell history: prefer the prompt or --password-stdin')
    .option('--password-stdin', 'read the password from stdin')
    .option('--docker', 'also write a docker CLI config and print its exports (as muelle docker-env)')
    .action(async (api: string | undefined, options) => {
      const config = { ...loadConfig(), ...(api ? { api: normalizeApi(api) } : {}) };
      const { username, password } = await loginCredentials(io, options);
      const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      const reply = await new ApiClient(config, basic).request('POST', '/v1/auth/tokens', { body: { name: 'muelle-cli' } });
      const path = saveLogin(config.api, reply.token);
      if (!options.docker) return void io.out.write(`Login Succeeded (token stored in ${path})\n`);
      // stdout carries only the exports, so `eval "$(muelle login --docker …)"` works.
      io.err.write(`Login Succeeded (token stored in ${path})\n`);
      io.out.write(writeDockerConfig({ ...config, token: reply.token }).join('\n') + '\n');
    });

  program
    .command('version')
    .description('Versions of this CLI and of the API it talks to (also: muelle --version)')
    .action(async () => {
      io.out.write(`Client: muelle ${MUELLE_VERSION}\n`);
      const config = loadConfig();
      try {
        const server = await new ApiClient(config).request('GET', '/v1/version');
        io.out.write(`Server: ${server.name} ${server.version} (API ${server.apiVersion}) at ${config.api}\n`);
      } catch (error) {
        io.out.write(`Server: unreachable at ${config.api}\n`);
        throw error;
      }
    });

  program
    .command('pull')
    .description('Copy an image from any registry into the platform registry')
    .argument('<image>')
    .option('--as <name>', 'name in the platform registry')
    .option('--host <id>', 'also pre-fetch onto this host (repeatable; "*" = all)', collect, [])
    .option('-q, --quiet', 'print only the reference')
    .option('--registry-user <user>', 'username for the source registry (your Muelle login is never sent there)')
    .option('--registry-password <password>', 'password for the source registry')
    .action(async (image: string, options) => {
      const api = client();
      const sourceAuth = options.registryUser ? { username: options.registryUser, password: options.registryPassword ?? '' } : undefined;
      if (!sourceAuth && options.registryPassword) throw new CliError('--registry-password needs --registry-user', 125);
      const response = await api.send('POST', '/v1/images/pull', {
        body: { image, as: options.as, hosts: options.host, sourceAuth },
        accept: 'application/x-ndjson',
      });
      const display = options.quiet ? null : new ProgressDisplay(io.out);
      for await (const line of api.lines(response)) {
        if (line.error) throw new CliError(line.error.message, 125, line.error.code);
        if (line.status === 'done') {
          if (!options.quiet) io.out.write(`Digest: ${line.digest}\nStatus: Downloaded ${line.reference}\n`);
          io.out.write(`${line.reference}\n`);
        } else display?.update(line);
      }
    });

  program
    .command('images')
    .description('List images of the platform registry')
    .option('-q, --quiet', 'only image ids')
    .option('--no-hosts', 'do not ask hosts what they cached')
    .addOption(formatOption())
    .action(async (options) => {
      const reply = await client().request('GET', '/v1/images', {
        query: { hosts: options.hosts, limit: 1000 },
      });
      if (options.format === 'json') return json(io, reply.items);
      if (options.quiet) return void io.out.write(reply.items.map((i: any) => `${shortDigest(i.id ?? i.digest)}\n`).join(''));
      io.out.write(
        table(
          ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'HOSTS'],
          reply.items.map((i: any) => [
            i.reference.replace(/:[^:/]+$/, ''),
            i.tag,
            shortDigest(i.id ?? i.digest),
            i.created ? `${ago(i.created)} ago` : '',
            humanSize(i.sizeBytes),
            (i.hosts ?? []).join(','),
          ]),
        ),
      );
    });

  program
    .command('run')
    .description('Create and start a container on a host the scheduler picks')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions()
    .option('-d, --detach', 'run in the background and print the id')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('--name <name>')
    .option('--rm', 'remove the container when it exits')
    .option('-p, --publish <spec>', '[ip:]hostPort:containerPort[/proto]', collect, [])
    .option('-e, --env <KEY=value>', 'environment variable', collect, [])
    .option('-v, --volume <spec>', 'source:/target[:ro]', collect, [])
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
    .option('--network <network>', "bridge, host, none, or one of your team's networks", 'bridge')
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
      const api = client();
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
        volumes: o.volume.map(parseVolume),
        ...(['bridge', 'host', 'none'].includes(o.network) ? { network: o.network } : { network: 'bridge', networks: [o.network] }),
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
          rows: io.out.rows,
          cols: io.out.columns,
        });
        exitCode = await runTerminal(ws, {
          tty: !!o.tty,
          stdin: !!o.interactive,
          output: io.out,
          errorOutput: io.err,
        });
      } else {
        await followLogs(api, io, created.id, { follow: true });
        exitCode = (await api.request('POST', `/v1/containers/${created.id}/wait`)).exitCode;
      }
      if (o.rm)
        await api
          .request('DELETE', `/v1/containers/${created.id}`, {
            query: { force: true },
          })
          .catch(() => undefined);
      io.exitCode = exitCode;
    });

  program
    .command('ps')
    .description('List containers')
    .option('-a, --all', 'also stopped ones')
    .option('-q, --quiet', 'only ids')
    .option('-f, --filter <key=value>', 'status=, name=, label=, host=', collect, [])
    .option('--no-trunc', 'full ids')
    .option('-n, --last <n>', 'at most n', '1000')
    .addOption(formatOption())
    .action(async (o) => {
      const query: Record<string, string | string[] | boolean> = {
        all: !!o.all,
        limit: o.last,
        label: [],
        state: [],
      };
      for (const filter of o.filter as string[]) {
        const [key, ...rest] = filter.split('=');
        const value = rest.join('=');
        if (key === 'status' || key === 'state') (query.state as string[]).push(value);
        else if (key === 'label') (query.label as string[]).push(value);
        else if (key === 'name') query.name = value;
        else if (key === 'host') query.host = value;
        else throw new CliError(`invalid filter "${key}": status, name, label or host`);
      }
      const reply = await client().request('GET', '/v1/containers', {
        query: query as Record<string, string | string[]>,
      });
      if (o.format === 'json') return json(io, reply.items);
      const id = (c: any) => (o.trunc ? shortId(c.id) : c.id);
      if (o.quiet) return void io.out.write(reply.items.map((c: any) => `${id(c)}\n`).join(''));
      io.out.write(
        table(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'HOST', 'NAMES'],
          reply.items.map((c: any) => [
            id(c),
            c.image,
            c.spec.command ? JSON.stringify(c.spec.command.join(' ')).slice(0, 22) : '',
            `${ago(c.createdAt)} ago`,
            containerStatus(c),
            ports(c.spec.ports.filter((p: any) => p.hostPort)),
            c.hostId ?? '',
            c.name,
          ]),
        ),
      );
    });

  program
    .command('attach')
    .description('Attach to a running container: its output, and your input when it keeps stdin open (ctrl-p ctrl-q detaches)')
    .argument('<container>')
    .option('--no-stdin', 'do not send input')
    .option('--detach-keys <keys>', 'the keys that detach', 'ctrl-p,ctrl-q')
    .action(async (container: string, o) => {
      const api = client();
      const view = await api.request('GET', `/v1/containers/${encodeURIComponent(container)}`);
      const stdin = !!o.stdin && !!view.spec.openStdin;
      const ws = await api.websocket(`/v1/containers/${encodeURIComponent(container)}/attach/ws`, {
        stdin: stdin ? 1 : undefined,
        detachKeys: o.detachKeys,
        rows: io.out.rows,
        cols: io.out.columns,
      });
      io.exitCode = await runTerminal(ws, { tty: !!view.spec.tty, stdin, output: io.out, errorOutput: io.err });
    });

  program
    .command('exec')
    .description('Run a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('-e, --env <KEY=value>', 'environment variable', collect, [])
    .option('-u, --user <user>')
    .option('-w, --workdir <dir>')
    .action(async (container: string, command: string[], o) => {
      const api = client();
      const exec = await api.request('POST', `/v1/containers/${encodeURIComponent(container)}/exec`, {
        body: {
          cmd: command,
          env: parseEnv(o.env),
          user: o.user,
          workingDir: o.workdir,
          tty: !!o.tty,
          stdin: !!o.interactive,
        },
      });
      const ws = await api.websocket(`/v1/containers/${encodeURIComponent(container)}/exec/${exec.id}/ws`, { rows: io.out.rows, cols: io.out.columns });
      io.exitCode = await runTerminal(ws, {
        tty: !!o.tty,
        stdin: !!o.interactive,
        output: io.out,
        errorOutput: io.err,
      });
    });

  for (const [verb, description] of [
    ['start', 'Start stopped containers'],
    ['stop', 'Stop running containers'],
    ['restart', 'Restart containers'],
    ['kill', 'Kill running containers'],
  ] as const) {
    const cmd = program.command(verb).description(description).argument('<containers...>');
    if (verb === 'stop' || verb === 'restart') cmd.option('-t, --time <seconds>', 'seconds to wait before killing');
    if (verb === 'kill') cmd.option('-s, --signal <signal>', 'signal', 'SIGKILL');
    cmd.action(async (names: string[], o) => {
      const api = client();
      await eachContainer(io, names, (name) => api.request('POST', `/v1/containers/${encodeURIComponent(name)}/${verb}`, { query: { timeout: o.time, signal: o.signal } }));
    });
  }

  program
    .command('rm')
    .description('Remove containers')
    .argument('<containers...>')
    .option('-f, --force', 'kill running ones first')
    .action(async (names: string[], o) => {
      const api = client();
      await eachContainer(io, names, (name) =>
        api.request('DELETE', `/v1/containers/${encodeURIComponent(name)}`, {
          query: { force: !!o.force },
        }),
      );
    });

  program
    .command('logs')
    .description("Show a container's output")
    .argument('<container>')
    .option('-f, --follow', 'keep streaming')
    .option('-n, --tail <n>', 'last n lines')
    .option('-t, --timestamps', 'prefix timestamps')
    .option('--since <time>', 'only output since then: 10m, 1h30m, unix seconds or an RFC 3339 time')
    .option('--until <time>', 'only output before then (with -f: follow until then)')
    .action(async (container: string, o) => {
      await followLogs(client(), io, container, {
        follow: !!o.follow,
        tail: o.tail,
        timestamps: !!o.timestamps,
        since: o.since !== undefined ? parseTimeBound(o.since, '--since') : undefined,
        until: o.until !== undefined ? parseTimeBound(o.until, '--until') : undefined,
      });
    });

  program
    .command('inspect')
    .description('Low-level information on containers or images (JSON)')
    .argument('<names...>')
    .action(async (names: string[]) => {
      const api = client();
      const results: unknown[] = [];
      for (const name of names) {
        try {
          results.push(await api.request('GET', `/v1/containers/${encodeURIComponent(name)}`));
        } catch (error) {
          if ((error as CliError).code !== 'NOT_FOUND') throw error;
          try {
            results.push(
              await api.request('GET', '/v1/images/inspect', {
                query: { image: name },
              }),
            );
          } catch (imageError) {
            if ((imageError as CliError).code !== 'NOT_FOUND' && (imageError as CliError).code !== 'INVALID_ARGUMENT') throw imageError;
            json(io, results);
            throw new CliError(`No such object: ${name}`, 1);
          }
        }
      }
      json(io, results);
    });

  program
    .command('tag')
    .description('Give an image of the platform registry another name')
    .argument('<source>')
    .argument('<target>')
    .action(async (source: string, target: string) => {
      await client().request('POST', '/v1/images/tag', {
        body: { source, target },
      });
    });

  program
    .command('push')
    .description('Send an image to the registry its name points to')
    .argument('<image>')
    .option('--registry-user <user>', 'username for the target registry')
    .option('--registry-password <password>', 'password for the target registry')
    .action(async (image: string, o) => {
      const api = client();
      const targetAuth = o.registryUser ? { username: o.registryUser, password: o.registryPassword ?? '' } : undefined;
      const response = await api.send('POST', '/v1/images/push', {
        body: { image, targetAuth },
        accept: 'application/x-ndjson',
      });
      const display = new ProgressDisplay(io.out);
      for await (const line of api.lines(response)) {
        if (line.error) throw new CliError(line.error.message, 125, line.error.code);
        if (line.status === 'done') io.out.write(`${image}: digest: ${line.digest}\n`);
        else display.update(line);
      }
    });

  program
    .command('rmi')
    .description('Remove images from the platform registry')
    .argument('<images...>')
    .option('--hosts', 'also forget them on every host')
    .option('-f, --force', 'even when containers use them on a host')
    .action(async (images: string[], o) => {
      const api = client();
      let failed = false;
      for (const image of images) {
        try {
          const reply = await api.request('DELETE', '/v1/images', {
            query: { image, hosts: !!o.hosts, force: !!o.force },
          });
          for (const name of reply.untagged ?? [reply.removed]) io.out.write(`Untagged: ${name}\n`);
          if (reply.id) io.out.write(`Deleted: ${reply.id}\n`);
        } catch (error) {
          failed = true;
          io.err.write(`Error response from daemon: ${(error as Error).message}\n`);
        }
      }
      if (failed) io.exitCode = 1;
    });

  const hosts = program.command('hosts').description('Hosts of the platform');
  hosts
    .command('ls', { isDefault: true })
    .addOption(formatOption())
    .action(async (o) => {
      const reply = await client().request('GET', '/v1/hosts', {
        query: { limit: 1000 },
      });
      if (o.format === 'json') return json(io, reply.items);
      io.out.write(
        table(
          ['ID', 'ADDRESS', 'STATE', 'CORDONED', 'CPUS', 'MEMORY', 'CONTAINERS', 'LABELS'],
          reply.items.map((h: any) => [
            h.id,
            h.address,
            h.state,
            h.cordoned ? 'yes' : 'no',
            `${h.usage.reservedCpus}/${h.capacity.cpus}`,
            `${humanBinary(h.usage.reservedMemoryBytes)}/${humanBinary(h.capacity.memoryBytes)}`,
            String(h.usage.containers),
            Object.entries(h.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]),
        ),
      );
    });
  hosts
    .command('inspect')
    .argument('<id>')
    .action(async (id: string) => json(io, await client().request('GET', `/v1/hosts/${encodeURIComponent(id)}`)));
  for (const verb of ['cordon', 'uncordon', 'drain'] as const) {
    hosts
      .command(verb)
      .argument('<id>')
      .action(async (id: string) => {
        const reply = await client().request('POST', `/v1/hosts/${encodeURIComponent(id)}/${verb}`);
        if (verb === 'drain') {
          for (const m of reply.moved) io.out.write(`moved ${m.name} -> ${m.to}\n`);
          for (const s of reply.stayed) io.out.write(`kept ${s.name}: ${s.reason}\n`);
        } else io.out.write(`${id}\n`);
      });
  }

  const repo = program
    .command('repo')
    .description("Registry settings of the platform registry's repositories")
    .addHelpText(
      'after',
      `
Examples:
  $ muelle repo show team/app
  $ muelle repo anonymous-pull team/app on    # anyone may pull team/app without credentials (admin)
  $ muelle repo anonymous-pull team/app off
  $ muelle repo shared team/base on           # every signed-in user may pull team/base; push stays with the team (admin)`,
    );
  repo
    .command('show')
    .description('Show a repository: whether it allows anonymous pulls and whether it is shared with every team')
    .argument('<name>', 'repository name, e.g. team/app (no registry host, no tag)')
    .addOption(formatOption())
    .action(async (name: string, o) => {
      const record = await client().request('GET', repositoryPath(name));
      if (o.format === 'json') return json(io, record);
      io.out.write(
        table(['REPOSITORY', 'ANONYMOUS PULL', 'SHARED', 'CREATED'], [[record.name, record.anonymousPull ? 'on' : 'off', record.shared ? 'on' : 'off', `${ago(record.createdAt)} ago`]]),
      );
    });
  repo
    .command('anonymous-pull')
    .description('Allow (on) or refuse (off) pulls without credentials; pushes always need them (admin only)')
    .argument('<name>', 'repository name, e.g. team/app')
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off']))
    .action(async (name: string, state: 'on' | 'off') => {
      const record = await client().request('PATCH', repositoryPath(name), { body: { anonymousPull: state === 'on' } });
      io.out.write(`${record.name}: anonymous pull ${record.anonymousPull ? 'on' : 'off'}\n`);
    });
  repo
    .command('shared')
    .description('Share (on) a repository with every signed-in user for pulls, like library/…, or stop (off); pushes stay with its team and admins (admin only)')
    .argument('<name>', 'repository name, e.g. team/base')
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off']))
    .action(async (name: string, state: 'on' | 'off') => {
      const record = await client().request('PATCH', repositoryPath(name), { body: { shared: state === 'on' } });
      io.out.write(`${record.name}: shared ${record.shared ? 'on' : 'off'}\n`);
    });

  program
    .command('build')
    .description('Build an image from a directory with a Dockerfile; tags are pushed to the platform registry')
    .argument('<context>', 'directory sent as the build context')
    .option('-t, --tag <name>', 'name:tag to push the result as (repeatable)', collect, [])
    .option('-f, --file <path>', 'Dockerfile path inside the context', 'Dockerfile')
    .option('--build-arg <KEY=value>', 'build argument', collect, [])
    .option('--target <stage>', 'stop at this stage')
    .option('--no-cache', 'do not use the layer cache')
    .option('-q, --quiet', 'print only the image id')
    .action(async (context: string, o) => {
      const api = client();
      const response = await api.send('POST', '/v1/builds', {
        query: { t: o.tag, dockerfile: o.file, buildarg: o.buildArg, target: o.target, nocache: !o.cache },
        raw: await packContext(context),
        accept: 'application/x-ndjson',
      });
      for await (const event of api.lines(response)) {
        if (event.error) {
          const where = event.error.details?.line ? ` (Dockerfile line ${event.error.details.line})` : '';
          throw new CliError(`${event.error.message}${where}`, 1, event.error.code);
        }
        if (event.status === 'done') {
          // The image id is the config digest, as Docker's: `muelle tag`, `run` and `rmi` take it or its short form.
          io.out.write(o.quiet ? `${event.configDigest}\n` : `Successfully built ${event.configDigest}\n`);
          if (!o.quiet) for (const pushed of event.pushed) io.out.write(`Successfully tagged ${pushed.reference}\n`);
        } else if (!o.quiet) io.out.write(describeBuildProgress(event, { announcePushes: true, terminateOutput: true }));
      }
    });

  registerUserCommands(program, io);
  registerTokenCommands(program, io);
  registerSystemCommands(program, io);
  registerTeamCommands(program, io);
  registerTeamAdminCommands(program, io);
  registerServiceCommands(program, io);
  registerStackCommands(program, io);
  registerNetworkCommands(program, io);
  registerContainerCommands(program, io);
  registerContextCommands(program, io);
  registerDockerEnvCommand(program, io);
  // Last: the completion script is generated from every command registered before it.
  registerCompletionCommand(program, io);

  return program;
}

async function followLogs(api: ApiClient, io: Io, container: string, options: { follow: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string }) {
  const response = await api.send('GET', `/v1/containers/${encodeURIComponent(container)}/logs`, { query: options });
  for await (const line of api.lines(response)) {
    if (line.error) throw new CliError(line.error.message, 125, line.error.code);
    (line.stream === 'stderr' ? io.err : io.out).write(line.data);
  }
}


/** `/v1/repositories/team/app`: the name's slashes stay path separators, each segment encoded. */
const repositoryPath = (name: string) => `/v1/repositories/${name.split('/').map(encodeURIComponent).join('/')}`;

const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
