import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface CliConfig {
  api: string;
  token?: string;
}

export const DEFAULT_API = 'http://127.0.0.1:2375';

export function configPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'muelle', 'config.json');
}

export function readStoredConfig(): Partial<CliConfig> {
  try {
    return JSON.parse(readFileSync(configPath(), 'utf8')) as Partial<CliConfig>;
  } catch {
    return {};
  }
}

/** Env first (MUELLE_API, MUELLE_TOKEN), then the file `muelle login` wrote, then the default endpoint. */
export function loadConfig(): CliConfig {
  const stored = readStoredConfig();
  return {
    api: (process.env.MUELLE_API || stored.api || DEFAULT_API).replace(/\/+$/, ''),
    token: process.env.MUELLE_TOKEN || stored.token,
  };
}

export function saveConfig(config: CliConfig): string {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
