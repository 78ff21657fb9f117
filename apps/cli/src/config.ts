import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './errors';

export interface CliConfig {
  api: string;
  token?: string;
  /** The context this configuration came from (absent when MUELLE_API chose the endpoint). */
  context?: string;
}

/** One API endpoint the CLI can talk to, with the token `muelle login` stored for it. */
export interface StoredContext {
  api: string;
  token?: string;
}

/** `~/.config/muelle/config.json`: named endpoints, like `docker context`, and the one in use. */
export interface StoredConfig {
  current: string;
  contexts: Record<string, StoredContext>;
}

export const DEFAULT_API = 'http://127.0.0.1:2375';
export const DEFAULT_CONTEXT = 'default';
const CONTEXT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]{0,63}$/;

export function configDir(): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'muelle');
}

export function configPath(): string {
  return join(configDir(), 'config.json');
}

export function checkContextName(name: string): string {
  if (!CONTEXT_NAME.test(name)) throw new CliError(`invalid context name "${name}": letters, digits and _.+- (up to 64, starting with a letter or digit)`);
  return name;
}

export function normalizeApi(api: string): string {
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    throw new CliError(`invalid API URL "${api}": use http://host:port or https://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`invalid API URL "${api}": use http://host:port or https://host:port`);
  return api.replace(/\/+$/, '');
}

/** The stored file; the single-endpoint file of earlier versions (`{api, token}`) reads as the `default` context. */
export function readStoredConfig(): StoredConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath(), 'utf8'));
  } catch (error) {
    // No file yet (or not JSON): the CLI starts from the default context, as before any login.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
    raw = {};
  }
  const value = (raw ?? {}) as Partial<StoredConfig> & Partial<StoredContext>;
  if (value.contexts && typeof value.contexts === 'object') {
    return { current: typeof value.current === 'string' ? value.current : DEFAULT_CONTEXT, contexts: { ...value.contexts } };
  }
  return { current: DEFAULT_CONTEXT, contexts: value.api ? { [DEFAULT_CONTEXT]: { api: value.api, token: value.token } } : {} };
}

export function writeStoredConfig(config: StoredConfig): string {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** The context in use: MUELLE_CONTEXT, else the one `muelle context use` chose. */
export function currentContextName(stored = readStoredConfig()): string {
  return process.env.MUELLE_CONTEXT || stored.current;
}

/** Env first (MUELLE_API, MUELLE_TOKEN), then the current context of the stored file, then the default endpoint. */
export function loadConfig(): CliConfig {
  const stored = readStoredConfig();
  const name = currentContextName(stored);
  const context = stored.contexts[name];
  if (!context && name !== DEFAULT_CONTEXT) throw new CliError(`context "${name}" does not exist: see "muelle context ls"`);
  return {
    api: (process.env.MUELLE_API || context?.api || DEFAULT_API).replace(/\/+$/, ''),
    token: process.env.MUELLE_TOKEN || context?.token,
    ...(process.env.MUELLE_API ? {} : { context: name }),
  };
}

/** Stores a login in the current context (creating it when it is the default one). */
export function saveLogin(api: string, token: string): string {
  const stored = readStoredConfig();
  const name = currentContextName(stored);
  stored.contexts[name] = { api, token };
  return writeStoredConfig(stored);
}
