import { Command } from 'commander';
import type { Io } from '../commands';
import { checkContextName, currentContextName, DEFAULT_API, DEFAULT_CONTEXT, normalizeApi, readStoredConfig, StoredContext, writeStoredConfig } from '../config';
import { CliError } from '../errors';
import { table } from '../format';
import { formatOption, printJson } from './common';

/** `muelle context ls|use|create|rm`: named API endpoints, each with its own login, like `docker context`. */
export function registerContextCommands(program: Command, io: Io): void {
  const context = program.command('context').description('API endpoints this CLI knows, each with its own login (like docker context)');

  context
    .command('ls', { isDefault: true })
    .description('List the contexts; * marks the one in use')
    .addOption(formatOption())
    .action((o) => {
      const stored = readStoredConfig();
      const current = currentContextName(stored);
      // The default context always exists: it is what the CLI uses before any login.
      const contexts: Record<string, StoredContext> = { [DEFAULT_CONTEXT]: { api: DEFAULT_API }, ...stored.contexts };
      const rows = Object.entries(contexts).map(([name, c]) => ({ name, current: name === current, api: c.api, loggedIn: !!c.token }));
      if (o.format === 'json') return printJson(io, rows);
      io.out.write(table(['NAME', 'API', 'LOGGED IN'], rows.map((r) => [r.current ? `${r.name} *` : r.name, r.api, r.loggedIn ? 'yes' : 'no'])));
    });

  context
    .command('create')
    .description('Add an API endpoint; "muelle context use" switches to it, then "muelle login" stores its token')
    .argument('<name>')
    .requiredOption('--api <url>', 'the API URL, e.g. https://ctl.internal:2375')
    .action((name: string, o) => {
      const stored = readStoredConfig();
      if (stored.contexts[checkContextName(name)] || name === DEFAULT_CONTEXT) throw new CliError(`context "${name}" already exists`);
      stored.contexts[name] = { api: normalizeApi(o.api) };
      writeStoredConfig(stored);
      io.out.write(`${name}\n`);
    });

  context
    .command('use')
    .description('Make a context the one every command uses (MUELLE_CONTEXT overrides it for one shell)')
    .argument('<name>')
    .action((name: string) => {
      const stored = readStoredConfig();
      if (!stored.contexts[name] && name !== DEFAULT_CONTEXT) throw new CliError(`context "${name}" does not exist: see "muelle context ls"`);
      stored.current = name;
      writeStoredConfig(stored);
      io.out.write(`${name}\nCurrent context is now "${name}"\n`);
    });

  context
    .command('rm')
    .description('Forget contexts and their tokens (not the one in use)')
    .argument('<names...>')
    .action((names: string[]) => {
      const stored = readStoredConfig();
      for (const name of names) {
        if (!stored.contexts[name]) {
          io.exitCode = 1;
          io.err.write(`Error: context "${name}" does not exist\n`);
        } else if (name === currentContextName(stored)) {
          io.exitCode = 1;
          io.err.write(`Error: context "${name}" is in use: switch to another one first ("muelle context use default")\n`);
        } else {
          delete stored.contexts[name];
          io.out.write(`${name}\n`);
        }
      }
      writeStoredConfig(stored);
    });
}
