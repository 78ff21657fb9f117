import { Command } from 'commander';
import type { Io } from '../commands';
import { ago, shortId, table } from '../format';
import { apiClient, formatOption, newPassword, printJson, SecretPrompt } from './common';
import { teamIdOf } from './teams';

/** `muelle user ls|create|disable|enable|passwd`. */
export function registerUserCommands(program: Command, io: Io): void {
  const user = program.command('user').description('Accounts: list, create, disable, passwords');

  user
    .command('ls', { isDefault: true })
    .description('Users (admins: all; members: their team)')
    .option('--team <team>', 'only this team (admins)')
    .addOption(formatOption())
    .action(async (o) => {
      const api = apiClient();
      const team = o.team ? await teamIdOf(api, o.team) : undefined;
      const { items } = await api.request('GET', '/v1/users', { query: { team } });
      if (o.format === 'json') return printJson(io, items);
      io.out.write(
        table(
          ['USER ID', 'USERNAME', 'ROLE', 'TEAM', 'STATUS', 'CREATED'],
          items.map((u: any) => [shortId(u.id), u.username, u.role, u.teamName ?? '', u.disabled ? 'disabled' : 'enabled', `${ago(u.createdAt)} ago`]),
        ),
      );
    });

  user
    .command('create')
    .description('Create a user (admin)')
    .argument('<username>')
    .option('--team <team>', 'team name or id (members need one)')
    .option('--role <role>', 'admin or member', 'member')
    .option('-p, --password <password>', 'its password (else prompted; read from stdin when piped)')
    .addOption(formatOption())
    .action(async (username: string, o) => {
      const api = apiClient();
      const teamId = o.team ? await teamIdOf(api, o.team) : null;
      const prompt = new SecretPrompt(io);
      try {
        const password = await newPassword(prompt, o, 'Password: ');
        const created = await api.request('POST', '/v1/users', { body: { username, password, role: o.role, teamId } });
        if (o.format === 'json') return printJson(io, created);
        io.out.write(`${created.user.id}\n`);
      } finally {
        prompt.close();
      }
    });

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(name)
      .description(disabled ? 'Disable users: their logins and tokens stop working (admin)' : 'Re-enable users (admin)')
      .argument('<user...>', 'username or id')
      .action(async (users: string[]) => {
        const api = apiClient();
        for (const ref of users) {
          try {
            await api.request('POST', `/v1/users/${encodeURIComponent(ref)}/${name}`);
            io.out.write(`${ref}\n`);
          } catch (error) {
            io.exitCode = 1;
            io.err.write(`Error: ${(error as Error).message}\n`);
          }
        }
      });
  }

  user
    .command('passwd')
    .description("Change your password (asks for the current one), or reset another user's (admin); piped stdin answers the prompts, one line each")
    .argument('[user]', 'username or id (default: you)')
    .action(async (ref: string | undefined) => {
      const api = apiClient();
      const me = await api.request('GET', '/v1/me');
      const target = ref ?? me.user.username;
      const own = target === me.user.username || target === me.user.id;
      const prompt = new SecretPrompt(io);
      try {
        const currentPassword = own ? await prompt.ask('Current password: ') : undefined;
        const password = await newPassword(prompt, {});
        await api.request('POST', `/v1/users/${encodeURIComponent(target)}/password`, { body: { password, ...(own ? { currentPassword } : {}) } });
        io.out.write(own ? 'Password changed\n' : `Password of ${target} reset\n`);
      } finally {
        prompt.close();
      }
    });
}
