import { Command } from 'commander';
import { ApiClient } from '../client';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { ago, shortId, table } from '../format';
import { apiClient, formatOption, printJson } from './common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A team name (looked up) or id (as is). */
export async function teamIdOf(api: ApiClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const { items } = await api.request('GET', '/v1/teams');
  const team = items.find((t: any) => t.name === ref);
  if (!team) throw new CliError(`no such team: ${ref}`);
  return team.id;
}

/** `muelle team ls|create` (policies and quotas live in their own file). */
export function registerTeamCommands(program: Command, io: Io): Command {
  const team = program.command('team').description('Teams (admin)');

  team
    .command('ls', { isDefault: true })
    .addOption(formatOption())
    .action(async (o) => {
      const { items } = await apiClient().request('GET', '/v1/teams');
      if (o.format === 'json') return printJson(io, items);
      io.out.write(table(['TEAM ID', 'NAME', 'CREATED'], items.map((t: any) => [shortId(t.id), t.name, `${ago(t.createdAt)} ago`])));
    });

  team
    .command('create')
    .argument('<name>')
    .addOption(formatOption())
    .action(async (name: string, o) => {
      const created = await apiClient().request('POST', '/v1/teams', { body: { name } });
      if (o.format === 'json') return printJson(io, created);
      io.out.write(`${created.id}\n`);
    });

  return team;
}
