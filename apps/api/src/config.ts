import { z } from 'zod';
import { bindHost, logLevel, natsUrl, port, registryAddress, serveTlsShape, trustTlsShape } from '@muelle/service-kit';

export const apiConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  /** 2375: where Docker clients look for an engine; /v1 is Muelle's own REST API. */
  MUELLE_API_PORT: port(2375),
  ...serveTlsShape,
  ...trustTlsShape,
  /**
   * `host:port` of Muelle's registry as agents and the api reach it: image names without a
   * registry host resolve there, and pull/tag/push/images work on it. Unset: 127.0.0.1 and
   * MUELLE_REGISTRY_PORT (what the all-in-one and a one-machine setup have).
   */
  MUELLE_REGISTRY_ADDRESS: registryAddress.optional(),
  MUELLE_REGISTRY_PORT: port(5000),
  /** How often the reconciler looks for down or draining hosts (0 turns it off). */
  MUELLE_RECONCILE_SECONDS: z.coerce.number().nonnegative().default(5),
  /** How often services are brought to their spec: replicas, replacements, rolling updates (0 turns it off). */
  MUELLE_SERVICES_RECONCILE_SECONDS: z.coerce.number().nonnegative().max(3600).default(2),
  /**
   * Web origins (`https://console.example.com`, comma-separated) whose pages may send state-changing
   * requests and open terminals; the api's own origin is always allowed (SECURITY.md § 5).
   */
  MUELLE_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const origins = text
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
      for (const origin of origins) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(origin);
        } catch {
          // Reported just below with the value that failed.
        }
        if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin.replace(/\/+$/, '')) {
          ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://console.example.com (scheme, host, optional port; no path)` });
          return z.NEVER;
        }
      }
      return origins.map((o) => new URL(o).origin);
    }),
  /** Lifetime of a console sign-in (its cookie and the session token behind it). */
  MUELLE_SESSION_TTL_SECONDS: z.coerce.number().int().min(300).max(30 * 24 * 3600).default(28_800),
  /** Pids limit of a container that sets none, so one fork bomb cannot exhaust a host (0: no default). */
  MUELLE_DEFAULT_PIDS_LIMIT: z.coerce.number().int().min(0).max(4_194_304).default(4096),
};
export const apiConfigSchema = z.object({
  ...apiConfigShape,
  NATS_URL: natsUrl,
});
/** The settings as parsed from the environment. */
export type ApiSettings = z.output<z.ZodObject<typeof apiConfigShape>>;

export const API_CONFIG = Symbol('API_CONFIG');

/** What services inject under API_CONFIG: the settings with the registry address resolved. */
export type ApiConfig = ApiSettings & { MUELLE_REGISTRY_ADDRESS: string };
export const resolveApiConfig = (config: ApiSettings): ApiConfig => ({
  ...config,
  MUELLE_REGISTRY_ADDRESS: config.MUELLE_REGISTRY_ADDRESS ?? `127.0.0.1:${config.MUELLE_REGISTRY_PORT}`,
});
