import { z } from 'zod';
import { busConfigShape, busNamespace, natsUrl, stopConfigShape } from '@muelle/service-kit';
import { agentConfigShape } from '@muelle/app-agent';
import { apiConfigShape } from '@muelle/app-api';
import { builderConfigShape } from '@muelle/app-builder';
import { metadataConfigShape } from '@muelle/app-metadata';
import { registryConfigSchema, registryConfigShape } from '@muelle/app-registry';

/**
 * The single-host process reads every service's variables at once. NATS_URL is optional here:
 * without it the services share an in-process bus.
 */
export const allInOneConfigSchema = z
  .object({
    ...metadataConfigShape,
    ...registryConfigShape,
    ...builderConfigShape,
    ...agentConfigShape,
    ...apiConfigShape,
    NATS_URL: natsUrl.optional(),
    MUELLE_BUS_NAMESPACE: busNamespace.optional(),
    ...stopConfigShape,
    ...busConfigShape,
  })
  .superRefine((config, ctx) => {
    const registry = registryConfigSchema.safeParse({ ...config, NATS_URL: 'nats://placeholder:4222' });
    if (!registry.success) for (const issue of registry.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message } as never);
  });
export type AllInOneConfig = z.output<typeof allInOneConfigSchema>;
