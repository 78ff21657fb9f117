import { z } from 'zod';

/** A configuration problem, always naming the environment variable at fault. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/**
 * Parses environment variables with a zod object schema whose keys ARE the variable names.
 * Empty strings count as unset, so `FOO=` falls back to the default like a missing variable.
 */
export function parseConfig<S extends z.ZodObject<z.ZodRawShape>>(schema: S, env: Env = process.env): z.output<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const variable = String(issue.path[0] ?? 'configuration');
  const problem = issue.code === 'invalid_type' && input[variable] === undefined ? 'is required' : issue.message;
  throw new ConfigError(variable, problem);
}

/** For main(): one line naming the variable, exit code 2, no stack trace. */
export function loadConfigOrExit<S extends z.ZodObject<z.ZodRawShape>>(service: string, schema: S, env: Env = process.env): z.output<S> {
  return exitOnConfigError(service, () => parseConfig(schema, env));
}

/** Runs a start-time check; a ConfigError ends the process with exit code 2 and one line naming the variable. */
export function exitOnConfigError<T>(service: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`muelle ${service}: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

// Reusable variable types, so every app spells them the same way.
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const bindHost = z.string().min(1).default('127.0.0.1');
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');
export const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v.split(',')[0]).protocol);
    } catch {
      // Not a URL: the refinement's message says so.
      return false;
    }
  }, `must be a URL (${protocols.join(' or ')})`);
export const natsUrl = url(['nats:', 'tls:']);
export const postgresUrl = url(['postgres:', 'postgresql:']);
export const httpUrl = url(['http:', 'https:']);
export const seconds = (fallback: number) => z.coerce.number().positive().default(fallback);
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Prefix for every bus subject, so installations or test runs can share one NATS server. */
export const busNamespace = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lowercase letters, digits and -, max 32');

/** `host:port` of Muelle's registry as services reach it; image names without a registry host resolve there. */
export const registryAddress = z.string().regex(/^[A-Za-z0-9.-]+(:[0-9]+)?$|^\[[0-9a-fA-F:]+\](:[0-9]+)?$/, 'host:port');

export const DEFAULT_STOP_TIMEOUT_SECONDS = 10;
/** How long a stop may take before the process forces its exit (service managers usually allow 10 s or more). */
export const stopConfigShape = {
  MUELLE_STOP_TIMEOUT_SECONDS: z.coerce.number().min(3).max(600).default(DEFAULT_STOP_TIMEOUT_SECONDS),
};
