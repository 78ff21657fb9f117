import { ServiceSpec } from '@muelle/contracts';
import { CreateServiceBody, ServiceVersionQuery, UpdateServiceBody } from './services.schemas';

describe('PATCH /v1/services/:ref body', () => {
  it('holds only the fields sent: nothing left out is reset to its default', () => {
    expect(UpdateServiceBody.parse({ command: ['sh', '-c', 'echo v2'] })).toEqual({ command: ['sh', '-c', 'echo v2'] });
    expect(UpdateServiceBody.parse({ updateConfig: { parallelism: 2 } })).toEqual({ updateConfig: { parallelism: 2 } });
    // What ServicesService.update merges: the service keeps its replicas, ports and update settings.
    const current = ServiceSpec.parse({ image: 'x', replicas: 3, ports: [{ hostPort: 8090, containerPort: 8080 }], updateConfig: { failureAction: 'rollback', monitorMs: 200 } });
    const changes = UpdateServiceBody.parse({ command: ['true'], updateConfig: { parallelism: 2 } });
    const merged = ServiceSpec.parse({ ...current, ...changes, updateConfig: { ...current.updateConfig, ...changes.updateConfig } });
    expect(merged).toMatchObject({ replicas: 3, ports: current.ports, command: ['true'], updateConfig: { parallelism: 2, failureAction: 'rollback', monitorMs: 200 } });
  });

  it('refuses an empty change and fields Muelle does not have', () => {
    expect(UpdateServiceBody.safeParse({}).error?.issues[0]?.message).toBe('nothing to change');
    expect(UpdateServiceBody.safeParse({ replicas: 2, privileged: true }).success).toBe(false);
    expect(UpdateServiceBody.safeParse({ updateConfig: { paralelism: 2 } }).success).toBe(false);
    expect(UpdateServiceBody.safeParse({ ports: [{ hostPort: 80, containerPort: 80, mode: 'vip' }] }).success).toBe(false);
    expect(UpdateServiceBody.safeParse({ ports: [{ hostPort: 80, containerPort: 80, mode: 'host', hostIP: '1.2.3.4' }] }).success).toBe(false);
    // The routing mesh: ingress (the default) and host are both ports Muelle has.
    expect(UpdateServiceBody.safeParse({ ports: [{ hostPort: 80, containerPort: 80, mode: 'ingress' }] }).success).toBe(true);
  });

  it('takes networks by name with aliases, and refuses options a service network does not have', () => {
    expect(CreateServiceBody.parse({ name: 'web', image: 'x', networks: [{ network: 'front', aliases: ['www'] }, { network: 'back' }] }).networks).toEqual([
      { network: 'front', aliases: ['www'] },
      { network: 'back', aliases: [] },
    ]);
    expect(UpdateServiceBody.parse({ networks: [] })).toEqual({ networks: [] });
    expect(CreateServiceBody.safeParse({ name: 'web', image: 'x', networks: [{ network: 'front', ipv4Address: '10.0.0.9' }] }).success).toBe(false);
    expect(CreateServiceBody.safeParse({ name: 'web', image: 'x', networks: [{ network: 'front', aliases: ['not valid!'] }] }).success).toBe(false);
  });

  it('takes the version the client read as ?version=N, and refuses other query options', () => {
    expect(ServiceVersionQuery.parse({ version: '3' })).toEqual({ version: 3 });
    expect(ServiceVersionQuery.parse({})).toEqual({});
    expect(ServiceVersionQuery.safeParse({ version: '0' }).success).toBe(false);
    expect(ServiceVersionQuery.safeParse({ force: 'true' }).success).toBe(false);
  });

  it('patches the restart policy field by field', () => {
    expect(UpdateServiceBody.parse({ restartPolicy: { maxAttempts: 3 } })).toEqual({ restartPolicy: { maxAttempts: 3 } });
    expect(UpdateServiceBody.safeParse({ restartPolicy: { backoff: 2 } }).success).toBe(false);
    expect(CreateServiceBody.parse({ name: 'w', image: 'x' }).restartPolicy).toEqual({ condition: 'any', delayMs: 5000, maxAttempts: 0, windowMs: 0 });
  });
});
