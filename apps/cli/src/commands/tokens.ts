import { formatScope } from '@muelle/authz/scope-format';
import { Command } from 'commander';
import type { Io } from '../commands';
import { CliError } from '../errors';
import { ago, shortId, table } from '../format';
import { collect } from '../parse';
import { apiClient, formatOption, parseDuration, printJson } from './common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `muelle token ls|create|revoke`: personal tokens, scoped tokens and team robots. */
export function registerTokenCommands(program: Command, io: Io): void {
  const token = program.command('token').description('API tokens and robot accounts');

  token
    .command('ls', { isDefault: true })
    .description("Live tokens: yours and your team's robots (admins: all)")
    .addOption(formatOption())
    .action(async (o) => {
      const { items } = await apiClient().request('GET', '/v1/auth/tokens');
      if (o.format === 'json') return printJson(io, items);
      io.out.write(
        table(
          ['TOKEN ID', 'NAME', 'KIND', 'LOGIN', 'SCOPES', 'CREATED', 'EXPIRES'],
          items.map((t: any) => [
            shortId(t.id),
            t.name,
            t.kind,
            t.loginName,
            (t.scopes ?? []).map(formatScope).join(' ') || 'all',
            `${ago(t.createdAt)} ago`,
            t.expiresAt ? t.expiresAt.replace(/\.\d+Z$/, 'Z') : 'never',
          ]),
        ),
      );
    });

  token
    .command('create')
    .description('Make a token (printed once). With --team: a robot owned by that team, usable as `docker login -u <team>+<name> -p <token>`')
    .argument('[name]', 'a label for the token; the robot name with --team', 'cli')
    .option('--ttl <duration>', 'expire after this long (3600, 90s, 15m, 12h, 30d)')
    .option('--team <team>', 'make a robot token for this team (needs --scope)')
    .option('--scope <scope>', 'repository:<name or prefix*>:<pull,push,delete> or <kind>:<actions> (repeatable)', collect, [])
    .addOption(formatOption())
    .action(async (name: string, o) => {
      if (o.team && !o.scope.length) throw new CliError('a robot token needs at least one --scope, e.g. --scope "repository:<team>/*:pull"');
      const created = await apiClient().request('POST', '/v1/auth/tokens', {
        body: { name, ttlSeconds: o.ttl ? parseDuration(o.ttl) : undefined, scopes: o.scope.length ? o.scope : undefined, team: o.team },
      });
      if (o.format === 'json') return printJson(io, created);
      io.out.write(`${created.token}\n`);
      io.err.write(`token ${shortId(created.id)} for ${created.loginName}${created.expiresAt ? `, expires ${created.expiresAt}` : ''} (shown only once)\n`);
    });

  token
    .command('revoke')
    .description('Revoke tokens by id or unique id prefix; every api and registry refuses them within seconds')
    .argument('<token...>')
    .action(async (refs: string[]) => {
      const api = apiClient();
      const live = refs.every((r) => UUID.test(r)) ? [] : (await api.request('GET', '/v1/auth/tokens')).items;
      for (const ref of refs) {
        try {
          const matches = UUID.test(ref) ? [ref] : live.filter((t: any) => t.id.startsWith(ref)).map((t: any) => t.id);
          if (matches.length !== 1) throw new CliError(matches.length ? `token id prefix ${ref} is ambiguous` : `no such token: ${ref}`);
          await api.request('DELETE', `/v1/auth/tokens/${matches[0]}`);
          io.out.write(`${ref}\n`);
        } catch (error) {
          io.exitCode = 1;
          io.err.write(`Error: ${(error as Error).message}\n`);
        }
      }
    });
}
