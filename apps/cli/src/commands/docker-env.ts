import { Command } from 'commander';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Io } from '../commands';
import { CliConfig, configDir, DEFAULT_CONTEXT, loadConfig } from '../config';
import { CliError } from '../errors';

/**
 * Writes a docker config folder for the given endpoint: `config.json` with the bearer header the
 * Docker API layer accepts (the docker CLI sends `HttpHeaders` on every request), and the CA when
 * the api serves HTTPS with our own. Returns the shell lines that point the docker CLI at it.
 */
export function writeDockerConfig(config: CliConfig): string[] {
  if (!config.token) throw new CliError('not logged in: run "muelle login" first (the docker CLI uses the token it stores)');
  const url = new URL(config.api);
  const dir = join(configDir(), 'docker', config.context ?? DEFAULT_CONTEXT);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${config.token}` } }, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const lines = [`export DOCKER_HOST=${shellQuote(`tcp://${url.hostname}:${port}`)}`, `export DOCKER_CONFIG=${shellQuote(dir)}`];
  if (url.protocol === 'https:') {
    // The docker CLI reads the CA that signed the api's certificate as ca.pem from DOCKER_CERT_PATH.
    if (process.env.MUELLE_TLS_CA) copyFileSync(process.env.MUELLE_TLS_CA, join(dir, 'ca.pem'));
    lines.push('export DOCKER_TLS_VERIFY=1', `export DOCKER_CERT_PATH=${shellQuote(dir)}`);
  } else {
    // A DOCKER_TLS_VERIFY left over from another daemon would make the CLI speak TLS to a plain-http api.
    lines.push('unset DOCKER_TLS_VERIFY DOCKER_CERT_PATH');
  }
  return lines;
}

const shellQuote = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

/** `muelle docker-env`: one step from a `muelle login` to a working stock docker CLI. */
export function registerDockerEnvCommand(program: Command, io: Io): void {
  program
    .command('docker-env')
    .description('Write a docker CLI config with your token and print the exports that point docker at this API: eval "$(muelle docker-env)"')
    .action(() => {
      io.out.write(writeDockerConfig(loadConfig()).join('\n') + '\n');
    });
}
