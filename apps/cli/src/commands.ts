import { MUELLE_VERSION } from '@muelle/contracts/version';
import { Command } from 'commander';
import { ApiClient } from './client';
import { loadConfig, normalizeApi, saveLogin } from './config';
import { CliError } from './errors';
import { ago, containerStatus, humanSize, ports, shortId, table } from './format';
import { collect, parseEnv, parseTimeBound } from './parse';
import { ProgressDisplay } from './progress';
import { runTerminal } from './terminal';
import { apiClient, followLogs, formatOption, printJson } from './commands/common';
import { registerDockerEnvCommand, writeDockerConfig } from './commands/docker-env';
import { loginCredentials } from './commands/login';
import { registerTeamAdminCommands } from './commands/team-admin';
import { registerUserCommands } from './commands/users';
import { registerTokenCommands } from './commands/tokens';
import { registerTeamCommands } from './commands/teams';
import { registerSystemCommands } from './commands/system';
import { registerContextCommands } from './commands/contexts';
import { registerContainerCommands } from './commands/containers';
import { registerCopyCommand, registerExportCommand, registerLoadCommand, registerSaveCommand } from './commands/copy';
import { registerCompletionCommand } from './commands/completion';
import { registerServiceCommands } from './commands/services';
import { registerStackCommands } from './commands/stacks';
import { registerRunCommand } from './commands/run';
import { registerImageNameCommands } from './commands/images';
import { registerHostCommands } from './commands/hosts';
import { registerRepositoryCommands } from './commands/repositories';
import { registerBuildCommand } from './commands/build';
import { registerEventsCommand } from './commands/events';
import { registerNetworkCommands } from './commands/networks';
import { registerVolumeCommands } from './commands/volumes';

export interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  /** Set by commands that end with a specific code (run, exec). */
  exitCode: number;
}

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

/**
 * Stands in for every command but the one asked for: each call on it (description, option, action,
 * subcommands) does nothing and returns it, so building it costs nothing.
 */
const skipped: Command = new Proxy(function skip() {} as unknown as Command, { get: () => () => skipped });

/**
 * The program; with `only`, just that top-level command is built (the others become `skipped`),
 * which is most of a start's own time (~15 ms of creating Commands and Options). Help, completion
 * and errors about unknown commands need the whole tree: the caller builds it then (see main.ts).
 */
export function buildProgram(io: Io, only?: string): Command {
  const program = new Command('muelle')
    .description('Muelle: run containers across your hosts')
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
    })
    .exitOverride();
  if (only !== undefined) {
    const command = program.command.bind(program) as (nameAndArgs: string) => Command;
    program.command = ((nameAndArgs: string) => (nameAndArgs.split(' ')[0] === only ? command(nameAndArgs) : skipped)) as typeof program.command;
  }

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
      const api = apiClient();
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
      const reply = await apiClient().request('GET', '/v1/images', {
        query: { hosts: options.hosts, limit: 1000 },
      });
      if (options.format === 'json') return printJson(io, reply.items);
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

  registerRunCommand(program, io);

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
      const reply = await apiClient().request('GET', '/v1/containers', {
        query: query as Record<string, string | string[]>,
      });
      if (o.format === 'json') return printJson(io, reply.items);
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
      const api = apiClient();
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
    .option('--detach-keys <keys>', 'the keys that detach from -it (the command keeps running)', 'ctrl-p,ctrl-q')
    .action(async (container: string, command: string[], o) => {
      const api = apiClient();
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
      const ws = await api.websocket(`/v1/containers/${encodeURIComponent(container)}/exec/${exec.id}/ws`, {
        stdin: o.interactive ? 1 : undefined,
        detachKeys: o.detachKeys,
        rows: io.out.rows,
        cols: io.out.columns,
      });
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
      const api = apiClient();
      await eachContainer(io, names, (name) => api.request('POST', `/v1/containers/${encodeURIComponent(name)}/${verb}`, { query: { timeout: o.time, signal: o.signal } }));
    });
  }

  program
    .command('rm')
    .description('Remove containers')
    .argument('<containers...>')
    .option('-f, --force', 'kill running ones first')
    .option('-v, --volumes', 'remove their anonymous volumes too (named ones stay)')
    .action(async (names: string[], o) => {
      const api = apiClient();
      await eachContainer(io, names, (name) =>
        api.request('DELETE', `/v1/containers/${encodeURIComponent(name)}`, {
          query: { force: !!o.force, volumes: !!o.volumes },
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
      await followLogs(apiClient(), io, container, {
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
      const api = apiClient();
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
            printJson(io, results);
            throw new CliError(`No such object: ${name}`, 1);
          }
        }
      }
      printJson(io, results);
    });

  registerImageNameCommands(program, io);
  registerHostCommands(program, io);
  registerRepositoryCommands(program, io);
  registerBuildCommand(program, io);

  registerUserCommands(program, io);
  registerTokenCommands(program, io);
  registerSystemCommands(program, io);
  registerTeamCommands(program, io);
  registerTeamAdminCommands(program, io);
  registerServiceCommands(program, io);
  registerStackCommands(program, io);
  registerNetworkCommands(program, io);
  registerVolumeCommands(program, io);
  registerContainerCommands(program, io);
  registerCopyCommand(program, io);
  registerSaveCommand(program, io);
  registerLoadCommand(program, io);
  registerExportCommand(program, io);
  registerContextCommands(program, io);
  registerDockerEnvCommand(program, io);
  registerEventsCommand(program, io);
  // Last: the completion script is generated from every command registered before it.
  registerCompletionCommand(program, io);

  return program;
}

const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
