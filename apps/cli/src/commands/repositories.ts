import { Argument, Command } from 'commander';
import { ago, table } from '../format';
import { apiClient, formatOption, printJson } from './common';
import type { Io } from '../commands';

/** `/v1/repositories/team/app`: the name's slashes stay path separators, each segment encoded. */
const repositoryPath = (name: string) => `/v1/repositories/${name.split('/').map(encodeURIComponent).join('/')}`;

/** `muelle repo`: registry settings of a repository (anonymous pulls, sharing). */
export function registerRepositoryCommands(program: Command, io: Io): void {
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
      const record = await apiClient().request('GET', repositoryPath(name));
      if (o.format === 'json') return printJson(io, record);
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
      const record = await apiClient().request('PATCH', repositoryPath(name), { body: { anonymousPull: state === 'on' } });
      io.out.write(`${record.name}: anonymous pull ${record.anonymousPull ? 'on' : 'off'}\n`);
    });
  repo
    .command('shared')
    .description('Share (on) a repository with every signed-in user for pulls, like library/…, or stop (off); pushes stay with its team and admins (admin only)')
    .argument('<name>', 'repository name, e.g. team/base')
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off']))
    .action(async (name: string, state: 'on' | 'off') => {
      const record = await apiClient().request('PATCH', repositoryPath(name), { body: { shared: state === 'on' } });
      io.out.write(`${record.name}: shared ${record.shared ? 'on' : 'off'}\n`);
    });
}
