import { ConflictError, InvalidArgumentError, MESH_BACKEND_PORTS, ServiceRecord, ServiceSpec } from '@muelle/contracts';
import { backendsLabel, checkAgainstMesh, checkIngressPorts, pickBackends, taskPorts } from './mesh-ports';

const port = (over: Partial<ServiceSpec['ports'][number]> = {}): ServiceSpec['ports'][number] => ({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp', mode: 'ingress', ...over });
const service = (id: string, name: string, ports: ServiceSpec['ports']) => ({ id, name, spec: { ports } }) as unknown as ServiceRecord;
const usage = (hostId: string, usedPorts: string[]) => ({ hostId, containers: 1, reservedMemoryBytes: 0, reservedCpus: 0, usedPorts, services: {} });

describe('mesh ports', () => {
  it("a task publishes host-mode ports as given and each ingress port on its own backend port, named in its label", () => {
    const spec = { ports: [port(), port({ mode: 'host', hostPort: 9000, containerPort: 9000 })] };
    const backends = pickBackends(spec);
    const backend = backends['80/tcp']!;
    expect(backend).toBeGreaterThanOrEqual(MESH_BACKEND_PORTS.min);
    expect(backend).toBeLessThanOrEqual(MESH_BACKEND_PORTS.max);
    expect(Object.keys(backends)).toEqual(['80/tcp']);
    expect(taskPorts(spec, backends)).toEqual([
      { hostIp: '0.0.0.0', hostPort: backend, containerPort: 80, protocol: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: 9000, containerPort: 9000, protocol: 'tcp' },
    ]);
    expect(backendsLabel(backends)).toBe(`80/tcp=${backend}`);
  });

  it('refuses an ingress port that a container publishes on any host, in the backend range or bound to one address (another service: metadata refuses it)', () => {
    expect(() => checkIngressPorts({ ports: [port()] }, null, [usage('host-b', ['0.0.0.0:8080/tcp'])])).toThrow(
      new ConflictError('port 8080/tcp is already published on host host-b; an ingress port is taken on every host'),
    );
    expect(() => checkIngressPorts({ ports: [port()] }, 'svc', [{ ...usage('host-b', ['0.0.0.0:8080/tcp']), services: { svc: 1 } }])).not.toThrow();
    expect(() => checkIngressPorts({ ports: [port({ hostPort: 30500 })] }, null, [])).toThrow(InvalidArgumentError);
    expect(() => checkIngressPorts({ ports: [port({ hostIp: '127.0.0.1' })] }, null, [])).toThrow(/bind it to 127.0.0.1 with mode host/);
    expect(() => checkIngressPorts({ ports: [port({ hostPort: 8081 })] }, null, [usage('host-b', ['0.0.0.0:8080/tcp'])])).not.toThrow();
  });

  it("refuses a container that publishes a service's ingress port, but not that service's own tasks", () => {
    const web = service('11111111-1111-4111-8111-111111111111', 'web', [port()]);
    const ports = [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
    expect(() => checkAgainstMesh(ports, [web], null)).toThrow(/8080\/tcp is the routing mesh port of service web/);
    expect(() => checkAgainstMesh(ports, [web], web.id)).not.toThrow();
    expect(() => checkAgainstMesh([{ ...ports[0]!, hostPort: 8081 }], [web], null)).not.toThrow();
  });
});
