import { HealthcheckSpec, Resources, ServiceDnsName, ServiceNetwork, ServiceRestartPolicy, ServicePort, ServiceSpec, UpdateConfig, VolumeMount } from '@muelle/contracts';
import { z } from 'zod';
import { patchOf, queryBool } from '../http/validation';

/** The service spec as a request body: strict at every level, so an option Muelle does not implement is a 400 naming it. */
const StrictServiceSpec = ServiceSpec.extend({
  ports: z.array(ServicePort.strict()).default([]),
  volumes: z.array(VolumeMount.strict()).default([]),
  networks: z.array(ServiceNetwork.strict()).max(32).default([]),
  resources: Resources.strict().default({}),
  healthcheck: HealthcheckSpec.strict().optional(),
  updateConfig: UpdateConfig.strict().default(UpdateConfig.parse({})),
  restartPolicy: ServiceRestartPolicy.strict().default(ServiceRestartPolicy.parse({})),
}).strict();

/** `PUT /v1/services/:ref`: the whole spec (what `stack deploy` sends); fields left out go back to their defaults. */
export const ReplaceServiceBody = StrictServiceSpec;
export type ReplaceServiceBody = z.output<typeof ReplaceServiceBody>;

/** `POST /v1/services`. */
export const CreateServiceBody = StrictServiceSpec.extend({ name: ServiceDnsName }).strict();
export type CreateServiceBody = z.output<typeof CreateServiceBody>;

/** `PATCH /v1/services/:ref`: the fields to change; the rest stays (no defaults filled in). */
export const UpdateServiceBody = patchOf(StrictServiceSpec)
  .extend({ updateConfig: patchOf(UpdateConfig).optional(), restartPolicy: patchOf(ServiceRestartPolicy).optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'nothing to change');
export type UpdateServiceBody = z.output<typeof UpdateServiceBody>;

export const ScaleBody = z.object({ replicas: z.number().int().min(0).max(1000) }).strict();

export const ServiceLogsQuery = z.object({
  tail: z.coerce.number().int().min(0).max(5000).default(100),
  timestamps: queryBool(false),
});

/** `?version=N` on a change: the version the client read; refused with 409 once the service moved past it. */
export const ServiceVersionQuery = z.object({ version: z.coerce.number().int().min(1).optional() }).strict();
