import { deployOrder, stackNetworkName } from '../commands/stacks';
import { parseComposeFile, parseComposeStack } from './compose-file';

const parse = (text: string, files: Record<string, string> = {}) =>
  parseComposeFile(text, 'compose.yaml', (path) => {
    if (!(path in files)) throw new Error(`no file ${path}`);
    return files[path]!;
  });

describe('Compose files → service specs', () => {
  it('reads the supported keys into a ServiceSpec each', () => {
    const [db, web] = parse(
      `
name: shop
services:
  db:
    image: library/busybox:1
    command: ["sleep", "3600"]
    environment: { ROLE: db }
    env_file: db.env
    volumes: ["data:/data", { type: bind, source: /srv/x, target: /x, read_only: true }]
    healthcheck: { test: "test -d /data", interval: 500ms, retries: 2, start_period: 1s }
    deploy:
      replicas: 1
      resources: { limits: { cpus: "0.5", memory: 64M } }
      placement: { constraints: ["node.labels.zone==a"] }
  web:
    image: library/busybox:1
    command: httpd -f -p 8080
    ports: ["8080:8080", { target: 9090, published: 9091, mode: host }]
    labels: ["tier=front"]
    depends_on: { db: { condition: service_healthy } }
    restart: on-failure
    deploy:
      replicas: 3
      update_config: { parallelism: 2, delay: 2s, order: start-first, failure_action: rollback, monitor: 1s }
volumes:
  data:
`,
      { 'db.env': '# comment\nFROM_FILE=1\n' },
    );
    expect(db).toEqual({
      name: 'db',
      dependsOn: [],
      networks: [{ key: 'default', aliases: [] }],
      spec: {
        image: 'library/busybox:1',
        command: ['sleep', '3600'],
        env: ['FROM_FILE=1', 'ROLE=db'],
        volumes: [
          { kind: 'volume', source: 'data', target: '/data', readOnly: false },
          { kind: 'bind', source: '/srv/x', target: '/x', readOnly: true },
        ],
        healthcheck: { test: ['CMD-SHELL', 'test -d /data'], intervalMs: 500, retries: 2, startPeriodMs: 1000 },
        replicas: 1,
        resources: { cpus: 0.5, memoryBytes: 64 * 1024 * 1024 },
        constraints: { zone: 'a' },
      },
    });
    expect(web).toEqual({
      name: 'web',
      dependsOn: [{ service: 'db', condition: 'service_healthy' }],
      networks: [{ key: 'default', aliases: [] }],
      spec: {
        image: 'library/busybox:1',
        command: ['/bin/sh', '-c', 'httpd -f -p 8080'],
        ports: [
          { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 8080, protocol: 'tcp', mode: 'ingress' },
          { hostIp: '0.0.0.0', hostPort: 9091, containerPort: 9090, protocol: 'tcp', mode: 'host' },
        ],
        labels: { tier: 'front' },
        restartCondition: 'on-failure',
        replicas: 3,
        updateConfig: { parallelism: 2, delayMs: 2000, order: 'start-first', failureAction: 'rollback', monitorMs: 1000 },
      },
    });
    expect(deployOrder([web!, db!]).map((s) => s.name)).toEqual(['db', 'web']);
  });

  it.each([
    ['services:\n  web:\n    image: x\n    privileged: true\n', 'compose.yaml:4: services.web.privileged is not supported by Muelle'],
    ['services:\n  web:\n    build: .\n', 'compose.yaml:3: services.web.build is not supported by Muelle'],
    ['services:\n  web:\n    command: x\n', 'compose.yaml:3: services.web.image: every service needs an image'],
    ['services:\n  web:\n    image: x\n    networks: [front]\n', 'compose.yaml: services.web.networks: front is not declared under the top-level networks'],
    ['services:\n  web:\n    image: x\n    networks: [a, b]\nnetworks: { a: {}, b: {} }\n', 'compose.yaml:4: services.web.networks: a service joins one network for now'],
    ['services:\n  web:\n    image: x\n    networks: { a: { ipv4_address: 10.0.0.9 } }\nnetworks: { a: {} }\n', 'compose.yaml:4: services.web.networks.a.ipv4_address is not supported by Muelle (aliases only)'],
    ['services:\n  web:\n    image: x\nnetworks:\n  a:\n    driver: macvlan\n', 'compose.yaml:6: networks.a.driver: macvlan is not supported by Muelle (overlay or bridge)'],
    ['services:\n  web:\n    image: x\nnetworks:\n  a:\n    ipam: {}\n', 'compose.yaml:6: networks.a.ipam is not supported by Muelle'],
    ['services:\n  web:\n    image: x\nnetworks:\n  a:\n    attachable: false\n', 'compose.yaml:6: networks.a.attachable: only true'],
    ['services:\n  web:\n    image: x\nnetworks:\n  a:\n    name: shared\n', 'compose.yaml:6: networks.a.name: only a string, with external: true'],
    ['services:\n  web:\n    image: x\n    ports: ["80:http"]\n', 'compose.yaml:4: services.web.ports: invalid publish spec "80:http"'],
    ['services:\n  web:\n    image: x\n    deploy:\n      mode: global\n', 'compose.yaml:5: services.web.deploy.mode: global is not supported by Muelle'],
    ['services:\n  web:\n    image: x\n    healthcheck: { test: "true", interval: soon }\n', 'compose.yaml:4: services.web.healthcheck.interval: "soon" is not a duration'],
    ['services:\n  web:\n    image: x\n    depends_on: [db]\n', 'compose.yaml: services.web.depends_on: no service db in the file'],
    ['services:\n  web:\n    image: x\nsecrets: {}\n', 'compose.yaml:4: secrets is not supported by Muelle (top level)'],
    ['services:\n  web:\n    image: x\n  web:\n    image: y\n', 'compose.yaml:4: Map keys must be unique'],
    ['services:\n  Web_1:\n    image: x\n', 'compose.yaml:2: services.Web_1: a service name must be lowercase'],
  ])('refuses %j naming file, line and field', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });

  it('puts services without networks on the stack default network, and reads declared, internal and external networks with aliases', () => {
    const stack = parseComposeStack(
      `
services:
  web: { image: x }
  api:
    image: x
    networks: { back: { aliases: [backend, api-v1] } }
  db:
    image: x
    networks: [shared]
networks:
  back: { internal: true, labels: { tier: back } }
  shared: { external: true, name: team-shared }
  unused: {}
`,
      'compose.yaml',
      () => '',
    );
    expect(stack.services.map((s) => [s.name, s.networks])).toEqual([
      ['web', [{ key: 'default', aliases: [] }]],
      ['api', [{ key: 'back', aliases: ['backend', 'api-v1'] }]],
      ['db', [{ key: 'shared', aliases: [] }]],
    ]);
    expect(stack.networks).toEqual([
      { key: 'default', external: false, driver: 'overlay', internal: false, labels: {} },
      { key: 'back', external: false, driver: 'overlay', internal: true, labels: { tier: 'back' } },
      { key: 'shared', external: true, name: 'team-shared', driver: 'overlay', internal: false, labels: {} },
    ]);
    expect(stackNetworkName('shop', stack.networks[1]!)).toBe('shop_back');
    expect(stackNetworkName('shop', stack.networks[2]!)).toBe('team-shared');
  });

  it('refuses a depends_on cycle', () => {
    const services = parse('services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n');
    expect(() => deployOrder(services)).toThrow('depends_on has a cycle: a → b → a');
  });
});
