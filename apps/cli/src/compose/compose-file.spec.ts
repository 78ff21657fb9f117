import { deployOrder } from '../commands/stacks';
import { parseComposeFile } from './compose-file';

const parse = (text: string, files: Record<string, string> = {}) =>
  parseComposeFile(text, 'compose.yaml', (path) => {
    if (!(path in files)) throw new Error(`no file ${path}`);
    return files[path]!;
  });

describe('Compose files → service specs', () => {
  it('reads the supported keys into a ServiceSpec each', () => {
    const {
      services: [db, web],
    } = parse(
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
      update_config: { parallelism: 2, delay: 2s, order: start-first, failure_action: rollback, monitor: 1s, max_failure_ratio: 0.25 }
      restart_policy: { delay: 10s, max_attempts: 3, window: 2m }
volumes:
  data:
`,
      { 'db.env': '# comment\nFROM_FILE=1\n' },
    );
    expect(db).toEqual({
      name: 'db',
      dependsOn: [],
      networks: [{ name: 'default', aliases: [] }],
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
      networks: [{ name: 'default', aliases: [] }],
      spec: {
        image: 'library/busybox:1',
        command: ['/bin/sh', '-c', 'httpd -f -p 8080'],
        ports: [
          { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 8080, protocol: 'tcp', mode: 'ingress' },
          { hostIp: '0.0.0.0', hostPort: 9091, containerPort: 9090, protocol: 'tcp', mode: 'host' },
        ],
        labels: { tier: 'front' },
        // restart: gives the condition, deploy.restart_policy the rest.
        restartPolicy: { condition: 'on-failure', delayMs: 10_000, maxAttempts: 3, windowMs: 120_000 },
        replicas: 3,
        updateConfig: { parallelism: 2, delayMs: 2000, order: 'start-first', failureAction: 'rollback', monitorMs: 1000, maxFailureRatio: 0.25 },
      },
    });
    expect(deployOrder([web!, db!]).map((s) => s.name)).toEqual(['db', 'web']);
  });

  it.each([
    ['services:\n  web:\n    image: x\n    privileged: true\n', 'compose.yaml:4: services.web.privileged is not supported by Muelle'],
    ['services:\n  web:\n    image: x\n    deploy:\n      update_config: { max_failure_ratio: 2 }\n', 'compose.yaml:5: services.web.deploy.update_config.max_failure_ratio must be a number from 0 to 1'],
    ['services:\n  web:\n    build: { context: ., ssh: [default] }\n', 'compose.yaml:3: services.web.build.ssh is not supported by Muelle (context, dockerfile, args, target)'],
    ['services:\n  web:\n    command: x\n', 'compose.yaml:3: services.web.image: every service needs an image or a build'],
    ['services:\n  web:\n    image: x\n    networks: [front]\n', 'compose.yaml:4: services.web.networks: front is not declared in the top-level networks'],
    ['services:\n  web:\n    image: x\nnetworks:\n  front:\n    driver: macvlan\n', 'compose.yaml:6: networks.front.driver: macvlan is not supported by Muelle (overlay or bridge)'],
    ['services:\n  web:\n    image: x\nnetworks:\n  front:\n    ipam: {}\n', 'compose.yaml:6: networks.front.ipam is not supported by Muelle'],
    ['services:\n  web:\n    image: x\nnetworks:\n  front:\n    name: other\n', 'compose.yaml:6: networks.front.name is supported by Muelle only with external: true'],
    ['services:\n  web:\n    image: x\n    networks:\n      default: { ipv4_address: 10.0.0.9 }\n', 'compose.yaml:5: services.web.networks.default.ipv4_address is not supported by Muelle (aliases only)'],
    ['services:\n  web:\n    image: x\n    ports: ["80:http"]\n', 'compose.yaml:4: services.web.ports: invalid publish spec "80:http"'],
    ['services:\n  web:\n    image: x\n    deploy:\n      restart_policy: { max_attempts: -1 }\n', 'compose.yaml:5: services.web.deploy.restart_policy.max_attempts must be a whole number'],
    ['services:\n  web:\n    image: x\n    deploy:\n      restart_policy: { window: soon }\n', 'compose.yaml:5: services.web.deploy.restart_policy.window: "soon" is not a duration'],
    ['services:\n  web:\n    image: x\n    deploy:\n      restart_policy: { backoff: 2 }\n', 'compose.yaml:5: services.web.deploy.restart_policy.backoff is not supported by Muelle'],
    ['services:\n  web:\n    image: x\n    deploy:\n      mode: global\n', 'compose.yaml:5: services.web.deploy.mode: global is not supported by Muelle'],
    ['services:\n  web:\n    image: x\n    healthcheck: { test: "true", interval: soon }\n', 'compose.yaml:4: services.web.healthcheck.interval: "soon" is not a duration'],
    ['services:\n  web:\n    image: x\n    depends_on: [db]\n', 'compose.yaml: services.web.depends_on: no service db in the file'],
    ['services:\n  web:\n    image: x\nsecrets: {}\n', 'compose.yaml:4: secrets is not supported by Muelle (top level)'],
    ['services:\n  web:\n    image: x\n  web:\n    image: y\n', 'compose.yaml:4: Map keys must be unique'],
    ['services:\n  Web_1:\n    image: x\n', 'compose.yaml:2: services.Web_1: a service name must be lowercase'],
  ])('refuses %j naming file, line and field', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });

  it('reads top-level networks and each service\'s networks (list or mapping with aliases); no networks: the default one', () => {
    const stack = parse(`
services:
  web:
    image: x
    networks:
      front: { aliases: [www] }
      default:
  worker:
    image: x
    networks: [back, shared]
  db:
    image: x
networks:
  front: { driver: bridge }
  back: { internal: true, driver: overlay }
  shared: { external: true, name: team-net }
`);
    expect(stack.networks).toEqual([
      { name: 'front', external: null, driver: 'bridge', internal: false },
      { name: 'back', external: null, driver: 'overlay', internal: true },
      { name: 'shared', external: 'team-net', driver: 'overlay', internal: false },
      { name: 'default', external: null, driver: 'overlay', internal: false },
    ]);
    expect(stack.services.map((s) => [s.name, s.networks])).toEqual([
      ['web', [{ name: 'front', aliases: ['www'] }, { name: 'default', aliases: [] }]],
      ['worker', [{ name: 'back', aliases: [] }, { name: 'shared', aliases: [] }]],
      ['db', [{ name: 'default', aliases: [] }]],
    ]);
  });

  it('reads build: a path, or context, dockerfile, args and target; image: stays the name to build as', () => {
    const { services } = parse('services:\n  a:\n    build: ./app\n  b:\n    image: team/b:2\n    build:\n      context: b\n      dockerfile: Dockerfile.prod\n      args: { V: "1" }\n      target: run\n');
    expect(services.map((s) => [s.name, s.spec.image, s.build])).toEqual([
      ['a', undefined, { context: './app', dockerfile: 'Dockerfile', args: [] }],
      ['b', 'team/b:2', { context: 'b', dockerfile: 'Dockerfile.prod', args: ['V=1'], target: 'run' }],
    ]);
  });

  it('refuses a depends_on cycle', () => {
    const { services } = parse('services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n');
    expect(() => deployOrder(services)).toThrow('depends_on has a cycle: a → b → a');
  });
});
