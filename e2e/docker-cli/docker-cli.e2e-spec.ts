import { createRegistryClient } from '@muelle/registry-client';
import { eventually, freePort, getJson, runCommand, ServiceProcess, serviceEntry, spawnNode } from '@muelle/testing';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminAuth, ADMIN_PASSWORD, logsOf, Platform, startPlatform } from '../control-plane/platform';
import { muelle } from '../control-plane/cli';
import { docker, dockerInTerminal } from './docker';
import { comparedBody, fillPlaceholders, knownGaps, parityCases, recorded, shapeDifferences } from './engine-parity';
import { volumeCases } from './volumes.cases';

/**
 * The stock docker CLI (Debian docker.io) against a distributed Muelle — metadata, registry, api,
 * builder and two agents as separate processes on NATS — through every command of the seed
 * (`../shared/seed-contenedores.md`) plus logs, inspect and run --rm -it.
 * Needs root, NATS, PostgreSQL and `apt-get install docker.io bsdutils docker-registry busybox-static`.
 */
describe('the seed with the stock docker CLI', () => {
  let platform: Platform;
  let env: Record<string, string>;
  let work: string;
  const extra: ServiceProcess[] = [];
  let webId: string;
  let webPort: number;
  let builtId: string;
  let busybox: string;
  let muelleEnv: Record<string, string>;
  let bearer: Record<string, string>;

  const logs = () => `${logsOf(platform)}\n${extra.map((p) => `--- ${p.name}\n${p.output().slice(-2500)}`).join('\n')}`;
  const ok = async (...args: string[]) => {
    const result = await docker(args, env);
    if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logs()}`);
    return result.stdout;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'muelle-docker-'));
    platform = await startPlatform({ agents: [] });
    const common = { ...platform.busEnv, MUELLE_LOG_LEVEL: 'warn' };
    // Two hosts on this machine, each with its own bridge, so containers spread over both.
    for (const [index, hostId] of ['dock-a', 'dock-b'].entries()) {
      mkdirSync(join(work, hostId), { recursive: true });
      const agent = spawnNode(`agent-${hostId}`, serviceEntry('agent'), {
        ...common,
        MUELLE_DATA_DIR: join(work, hostId),
        MUELLE_HOST_ID: hostId,
        MUELLE_AGENT_PORT: String(await freePort()),
        MUELLE_HOST_ADDRESS: '127.0.0.1',
        MUELLE_REGISTRY_ADDRESS: platform.registryAddress,
        MUELLE_HEARTBEAT_SECONDS: '1',
        MUELLE_LOG_LEVEL: 'info',
        MUELLE_BRIDGE_NAME: `mdock${index}`,
        MUELLE_BRIDGE_SUBNET: `10.89.${140 + index}.0/24`,
        // Tests never ask a real resolver: names the networks do not know are refused.
        MUELLE_DNS_UPSTREAM: '',
      });
      extra.push(agent);
      await eventually(
        async () => {
          const hosts = await getJson(`${platform.api}/v1/hosts`, { headers: adminAuth });
          if (!hosts.body?.items?.some((h: { id: string; state: string }) => h.id === hostId && h.state === 'ready')) throw new Error(`${hostId} not ready: ${hosts.status} ${JSON.stringify(hosts.body).slice(0, 500)}\n${agent.output().slice(-1500)}\n${logsOf(platform)}`);
        },
        { timeoutMs: 60_000 },
      );
    }
    // The one step a user takes: `muelle login --docker` writes the docker config and prints its exports.
    const login = await muelle(['login', '--docker', '-u', 'admin', '--password-stdin', platform.api], { HOME: join(work, 'home') }, { input: `${ADMIN_PASSWORD}\n` });
    if (login.code !== 0) throw new Error(`muelle login --docker failed\n${login.stdout}\n${login.stderr}`);
    env = Object.fromEntries([...login.stdout.matchAll(/^export (\w+)=(\S+)$/gm)].map(([, name, value]) => [name, value]));
    expect(Object.keys(env).sort()).toEqual(['DOCKER_CONFIG', 'DOCKER_HOST']);
    expect(env.DOCKER_HOST).toBe(`tcp://127.0.0.1:${platform.apiPort}`);
    muelleEnv = { HOME: join(work, 'home') };
    bearer = { authorization: JSON.parse(readFileSync(join(env.DOCKER_CONFIG, 'config.json'), 'utf8')).HttpHeaders.Authorization };
    busybox = `${platform.other.host}/library/busybox:1`;
    webPort = await freePort();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(extra.map((p) => p.stop()));
    await platform?.stop();
  }, 60_000);

  it('docker version shows Muelle as the server', async () => {
    const out = await ok('version', '--format', '{{.Server.Platform.Name}} {{.Server.APIVersion}}');
    expect(out.trim()).toBe('Muelle 1.43');
  }, 30_000);

  it('refuses without a token, with the message of the api', async () => {
    const result = await docker(['ps'], { DOCKER_HOST: env.DOCKER_HOST, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'no-token-')) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/bearer token or basic credentials/);
  }, 30_000);

  it('docker pull nombre:tag copies the image into Muelle', async () => {
    const out = await ok('pull', busybox);
    expect(out).toMatch(/Digest: sha256:[a-f0-9]{64}/);
    expect(out).toContain('Downloaded newer image for library/busybox:1');
  }, 90_000);

  it('answers the Docker API like dockerd: status codes, JSON keys and types of the recorded fixtures', async () => {
    const authorization = JSON.parse(readFileSync(join(env.DOCKER_CONFIG, 'config.json'), 'utf8')).HttpHeaders.Authorization;
    const vars: Record<string, string> = { image: 'busybox:1', name: 'parity', port: String(await freePort()), start: String(Math.floor(Date.now() / 1000) - 1) };
    const differences: Record<string, string[]> = {};
    const gaps = knownGaps();
    for (const c of parityCases()) {
      vars.now = String(Math.floor(Date.now() / 1000));
      const response = await fetch(`${platform.api}/v1.41${fillPlaceholders(c.path, vars)}`, {
        method: c.method,
        headers: { authorization, ...(c.body ? { 'content-type': 'application/json' } : {}) },
        body: c.body ? fillPlaceholders(JSON.stringify(c.body), vars) : undefined,
      });
      const text = await response.text();
      const body = comparedBody(c, response.status, response.headers, text);
      if (c.capture && (body as { Id?: string })?.Id) vars[c.capture] = (body as { Id: string }).Id;
      const expected = recorded(c.name);
      const listed = gaps[c.name] ?? [];
      const shape = shapeDifferences(expected.body, body);
      const found = [
        ...(response.status !== expected.status ? [`status: dockerd ${expected.status}, Muelle ${response.status} ${text.slice(0, 200)}`] : []),
        ...shape.filter((d) => !listed.includes(d.replace(/: missing$/, ''))),
        // A gap that is closed must leave the list, so the list stays the truth.
        ...listed.filter((gap) => !shape.includes(`${gap}: missing`)).map((gap) => `${gap}: listed in gaps.json but Muelle sends it`),
      ];
      if (found.length) differences[c.name] = found;
    }
    expect(differences).toEqual({});
  }, 60_000);

  it('docker images lists it', async () => {
    const out = await ok('images');
    expect(out.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
    expect(out).toMatch(/^busybox\s+1\s+[a-f0-9]{12}\s/m);
  }, 30_000);

  it('docker run -d -p 8080:8080 runs it and a request reaches the port', async () => {
    const out = await ok('run', '-d', '-p', `${webPort}:8080`, '--name', 'web', busybox, 'sh', '-c', 'mkdir -p /www && echo hola-docker > /www/index.html && exec httpd -f -p 8080 -h /www');
    webId = out.trim();
    expect(webId).toMatch(/^[a-f0-9]{64}$/);
    const body = await eventually(async () => (await fetch(`http://127.0.0.1:${webPort}/`, { signal: AbortSignal.timeout(2_000) })).text(), { timeoutMs: 30_000 });
    expect(body.trim()).toBe('hola-docker');
  }, 120_000);

  it('docker ps shows it running', async () => {
    const out = await ok('ps');
    const row = out.split('\n').find((line) => line.startsWith(webId.slice(0, 12)));
    expect(row).toMatch(/library\/busybox:1\s+.*Up .*0\.0\.0\.0:\d+->8080\/tcp\s+web$/);
  }, 30_000);

  it('docker inspect answers --format templates', async () => {
    const out = await ok('inspect', '--format', '{{.State.Status}} {{.Config.Image}} {{.Name}} {{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}', 'web');
    expect(out.trim()).toBe(`running ${busybox} /web ${webPort}`);
  }, 30_000);

  it('docker exec -it … sh gives an interactive shell in a terminal', async () => {
    const result = await dockerInTerminal(['exec', '-it', webId.slice(0, 12), 'sh'], env, 'echo dentro-$((6*7)) $(cat /www/index.html)\nexit 3\n');
    expect(result.stdout).toContain('dentro-42 hola-docker');
    expect(result.code).toBe(3);
  }, 60_000);

  it('docker exec without a terminal keeps stdout and stderr apart and passes stdin', async () => {
    const result = await docker(['exec', '-i', 'web', 'sh', '-c', 'read line; echo "out:$line"; echo err >&2; exit 4'], env, { input: 'eco\n' });
    expect(result.stdout).toBe('out:eco\n');
    expect(result.stderr).toBe('err\n');
    expect(result.code).toBe(4);
  }, 60_000);

  it('docker run (attached) prints the output and exits with the code; docker logs shows it again', async () => {
    const result = await docker(['run', '--name', 'talker', busybox, 'sh', '-c', 'echo uno; echo dos >&2; exit 7'], env);
    expect(result.stdout).toBe('uno\n');
    expect(result.stderr).toBe('dos\n');
    expect(result.code).toBe(7);
    const logs = await docker(['logs', 'talker'], env);
    expect(logs.stdout).toBe('uno\n');
    expect(logs.stderr).toBe('dos\n');
  }, 90_000);

  it('docker port, docker top, docker wait, docker rename, docker stats --no-stream and docker logs --since/--until', async () => {
    expect((await ok('port', 'web', '8080')).trim()).toMatch(new RegExp(`^[0-9.]+:${webPort}$`));
    expect(await ok('top', 'web')).toMatch(/^UID\s+PID\s+PPID\s+TIME\s+CMD\n0\s+\d+\s+\d+\s+\S+\s+httpd -f -p 8080 -h \/www\n$/);
    expect((await docker(['top', 'web', 'aux'], env)).stderr).toMatch(/ps options for docker top \(aux\) is not supported by Muelle/);
    expect((await ok('wait', 'talker')).trim()).toBe('7');
    await ok('rename', 'talker', 'chatter');
    expect((await ok('inspect', '--format', '{{.Name}}', 'chatter')).trim()).toBe('/chatter');
    await ok('rename', 'chatter', 'talker');
    expect((await ok('stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'web')).trim()).toMatch(/^web [1-9]\d*$/);
    const created = Math.floor(Date.parse((await ok('inspect', '--format', '{{.Created}}', 'talker')).trim()) / 1000);
    const since = await docker(['logs', '--since', String(created - 1), 'talker'], env);
    expect([since.stdout, since.stderr]).toEqual(['uno\n', 'dos\n']);
    const until = await docker(['logs', '--until', String(created - 1), 'talker'], env);
    expect([until.code, until.stdout, until.stderr]).toEqual([0, '', '']);
  }, 60_000);

  it('docker cp and muelle cp copy files both ways, running and stopped, and never leave the container', async () => {
    const dir = join(work, 'cp');
    mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'in.txt'), 'from-the-host\n');
    writeFileSync(join(dir, 'tree', 'sub', 'deep.txt'), 'deep\n');
    await ok('cp', join(dir, 'in.txt'), 'web:/tmp/');
    await ok('cp', join(dir, 'tree'), 'web:/tmp/renamed');
    expect(await ok('exec', 'web', 'cat', '/tmp/in.txt', '/tmp/renamed/sub/deep.txt')).toBe('from-the-host\ndeep\n');
    await ok('cp', 'web:/www/index.html', join(dir, 'out.html'));
    expect(readFileSync(join(dir, 'out.html'), 'utf8')).toBe('hola-docker\n');
    await ok('cp', 'web:/tmp/renamed', join(dir, 'back'));
    expect(readFileSync(join(dir, 'back', 'sub', 'deep.txt'), 'utf8')).toBe('deep\n');
    // A tar on stdout, as `docker cp c:/path -` gives it.
    expect((await docker(['cp', 'web:/www', '-'], env)).stdout).toContain('www/index.html');

    // Links made inside the container resolve inside it: the host's /etc/shadow is never read.
    await ok('exec', 'web', 'sh', '-c', 'echo container-shadow > /etc/shadow && ln -s / /tmp/rootlink && ln -s /etc/shadow /tmp/abs && ln -s ../../../../../../etc/shadow /tmp/rel');
    for (const source of ['web:/tmp/rootlink/etc/shadow', 'web:/tmp/rootlink/../../../etc/shadow']) {
      await ok('cp', source, join(dir, 'shadow-copy'));
      expect(readFileSync(join(dir, 'shadow-copy'), 'utf8')).toBe('container-shadow\n');
    }
    for (const link of ['abs', 'rel']) {
      await ok('cp', '-L', `web:/tmp/${link}`, join(dir, `followed-${link}`));
      expect(readFileSync(join(dir, `followed-${link}`), 'utf8')).toBe('container-shadow\n');
    }
    // Copying into the container through a link to / writes inside it.
    await ok('cp', join(dir, 'in.txt'), 'web:/tmp/rootlink/etc/');
    expect(await ok('exec', 'web', 'cat', '/etc/in.txt')).toBe('from-the-host\n');

    // The muelle CLI, both ways; a stopped container (talker exited) through its file system.
    const m = async (...args: string[]) => {
      const result = await muelle(args, muelleEnv);
      if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logs()}`);
    };
    await m('cp', join(dir, 'tree'), 'talker:/');
    await m('cp', 'talker:/tree/sub/deep.txt', join(dir, 'from-stopped.txt'));
    expect(readFileSync(join(dir, 'from-stopped.txt'), 'utf8')).toBe('deep\n');
    await m('cp', 'web:/tmp/rootlink/etc/shadow', join(dir, 'muelle-shadow'));
    expect(readFileSync(join(dir, 'muelle-shadow'), 'utf8')).toBe('container-shadow\n');
    expect((await ok('inspect', '--format', '{{.State.Status}}', 'talker')).trim()).toBe('exited');

    const missing = await docker(['cp', 'web:/no/such/file', join(dir, 'x')], env);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/No such container:path: web:\/no\/such\/file|no such file or directory in the container: \/no/)]);
    const kernel = await docker(['cp', join(dir, 'in.txt'), 'web:/proc/'], env);
    expect(kernel.stderr).toMatch(/cannot copy into \/proc: it is the kernel's/);
    // docker export and muelle export: the whole file system, a stopped one too.
    await ok('export', '-o', join(dir, 'web.tar'), 'web');
    expect(await runTar(join(dir, 'web.tar'))).toEqual(expect.arrayContaining(['www/index.html', 'etc/in.txt', 'proc']));
    await m('export', '-o', join(dir, 'talker.tar'), 'talker');
    expect(await runTar(join(dir, 'talker.tar'))).toEqual(expect.arrayContaining(['tree/sub/deep.txt']));
  }, 120_000);

  it('docker save and load, muelle save and load: a docker-archive that round-trips to the same image id', async () => {
    const dir = join(work, 'save');
    mkdirSync(dir, { recursive: true });
    await ok('tag', busybox, 'saveme:v1');
    const id = (await ok('image', 'inspect', '--format', '{{.Id}}', 'saveme:v1')).trim();
    const saved = await muelle(['save', '-o', join(dir, 'muelle.tar'), 'saveme:v1'], muelleEnv);
    expect([saved.code, saved.stderr]).toEqual([0, '']);
    await ok('save', '-o', join(dir, 'docker.tar'), 'saveme:v1');
    // What docker's own tools read: manifest.json naming the config by its digest, the OCI layout beside it.
    const listing = await runTar(join(dir, 'docker.tar'));
    expect(listing).toEqual(expect.arrayContaining(['manifest.json', 'index.json', 'oci-layout', 'repositories', `blobs/sha256/${id.slice(7)}`]));
    await ok('rmi', 'saveme:v1');
    expect((await docker(['image', 'inspect', 'saveme:v1'], env)).code).toBe(1);
    expect(await ok('load', '-i', join(dir, 'muelle.tar'))).toContain('Loaded image: saveme:v1');
    expect((await ok('image', 'inspect', '--format', '{{.Id}}', 'saveme:v1')).trim()).toBe(id);
    await ok('rmi', 'saveme:v1');
    const loaded = await muelle(['load', '-i', join(dir, 'docker.tar')], muelleEnv);
    expect([loaded.code, loaded.stdout]).toEqual([0, 'Loaded image: saveme:v1\n']);
    expect((await ok('run', '--rm', 'saveme:v1', 'echo', 'loaded-runs')).trim()).toBe('loaded-runs');
    // By id: no name in the archive; loading it gives the id back.
    await ok('save', '-o', join(dir, 'by-id.tar'), id.slice(7, 19));
    expect(await ok('load', '-i', join(dir, 'by-id.tar'))).toContain(`Loaded image ID: ${id}`);
    const notTar = await docker(['load'], env, { input: 'not a tar at all' });
    expect(notTar.stderr).toMatch(/the archive to load is not a tar archive/);
    // -f: the --rm container of the run above may still be being removed.
    await ok('rmi', '-f', 'saveme:v1');
  }, 120_000);

  it('places containers on both hosts', async () => {
    const hosts = new Set<string>();
    for (const name of ['web', 'talker']) hosts.add((await ok('inspect', '--format', '{{.Node.ID}}', name)).trim());
    expect([...hosts].sort()).toEqual(['dock-a', 'dock-b']);
  }, 30_000);

  it('docker stop stops it; docker ps -a shows it exited', async () => {
    // -t 1: httpd, PID 1 with no SIGTERM handler, ignores it, so the whole grace (10 s by default) would pass.
    expect((await ok('stop', '-t', '1', webId.slice(0, 12))).trim()).toBe(webId.slice(0, 12));
    expect(await ok('ps', '-q')).not.toContain(webId.slice(0, 12));
    const all = await ok('ps', '-a');
    expect(all.split('\n').find((line) => line.startsWith(webId.slice(0, 12)))).toMatch(/Exited \(\d+\)/);
  }, 60_000);

  it('docker rm removes it', async () => {
    expect((await ok('rm', webId.slice(0, 12))).trim()).toBe(webId.slice(0, 12));
    await ok('rm', 'talker');
    expect(await ok('ps', '-a', '-q')).toBe('');
  }, 60_000);

  it('docker container prune removes stopped containers only', async () => {
    const stopped = (await ok('create', '--name', 'stopped', busybox, 'true')).trim();
    const running = (await ok('run', '-d', '--name', 'running', busybox, 'sleep', '60')).trim();
    const out = await ok('container', 'prune', '-f');
    expect(out).toContain(`Deleted Containers:\n${stopped}\n`);
    expect(out).not.toContain(running);
    const refused = await docker(['container', 'prune', '-f', '--filter', 'until=1h'], env);
    expect(refused.stderr).toMatch(/the filter until is not supported by Muelle/);
    await ok('rm', '-f', 'running');
    expect(await ok('ps', '-a', '-q')).toBe('');
  }, 60_000);

  it('docker run --rm -it runs in a terminal, returns the exit code and leaves nothing behind', async () => {
    const result = await dockerInTerminal(['run', '--rm', '-it', busybox, 'sh', '-c', 'echo tty-$((2+3)); [ -t 0 ] && echo is-a-tty; exit 5'], env, '');
    expect(result.stdout).toContain('tty-5');
    expect(result.stdout).toContain('is-a-tty');
    expect(result.code).toBe(5);
    expect(await ok('ps', '-a', '-q')).toBe('');
  }, 90_000);

  it('docker build ./ builds the seed-shaped Dockerfile (FROM, COPY, EXPOSE)', async () => {
    const context = join(work, 'petclinic');
    mkdirSync(join(context, 'target'), { recursive: true });
    writeFileSync(join(context, 'target', 'petclinic.war'), 'not really a war\n');
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:1\nCOPY target/petclinic.war /usr/local/tomcat/webapps\nEXPOSE 8080\n');
    const result = await docker(['build', './'], env, { cwd: context, timeoutMs: 120_000 });
    if (result.code !== 0) throw new Error(`docker build failed\n${result.stdout}\n${result.stderr}\n${logs()}`);
    expect(result.stdout).toContain('Step 1/3 : FROM library/busybox:1');
    expect(result.stdout).toContain('Step 3/3 : EXPOSE 8080');
    builtId = /Successfully built ([a-f0-9]{12})/.exec(result.stdout)![1];
    expect(await ok('images', '--filter', 'dangling=true', '-q')).toContain(builtId);
  }, 150_000);

  it('docker tag id_imagen nombre_tag names the built image', async () => {
    await ok('tag', builtId, 'petclinic');
    const out = await ok('images', 'petclinic');
    expect(out).toMatch(new RegExp(`petclinic\\s+latest\\s+${builtId}`));
    const inspected = JSON.parse(await ok('image', 'inspect', 'petclinic'))[0];
    expect(inspected.Config.ExposedPorts).toEqual({ '8080/tcp': {} });
  }, 60_000);

  it('runs the built image: the COPY landed where the Dockerfile said', async () => {
    const result = await docker(['run', '--rm', 'petclinic', 'cat', '/usr/local/tomcat/webapps'], env);
    expect(result.stdout).toBe('not really a war\n');
    expect(result.code).toBe(0);
  }, 90_000);

  it('docker push servidor/usuario/imagen sends it to another registry', async () => {
    const target = `${platform.other.host}/usuario/petclinic`;
    await ok('tag', 'petclinic', target);
    const out = await ok('push', target);
    expect(out).toContain(`The push refers to repository [${target}]`);
    const digest = /latest: digest: (sha256:[a-f0-9]{64})/.exec(out)![1];
    const head = await createRegistryClient({ baseUrl: platform.other.url }).headManifest('usuario/petclinic', 'latest');
    expect(head?.digest).toBe(digest);
  }, 90_000);

  it('docker build -t builds and names in one go; docker rmi removes the name', async () => {
    const context = join(work, 'tagged');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:1\nARG GREETING=hi\nENV GREETING=$GREETING\nCMD ["sh", "-c", "echo $GREETING"]\n');
    const build = await docker(['build', '-t', 'greeter:2', '--build-arg', 'GREETING=saludos', '.'], env, { cwd: context, timeoutMs: 120_000 });
    expect(build.stdout).toContain('Successfully tagged greeter:2');
    const run = await docker(['run', '--rm', 'greeter:2'], env);
    expect(run.stdout).toBe('saludos\n');
    const rmi = await ok('rmi', 'greeter:2');
    expect(rmi).toContain('Untagged: greeter:2');
    const inspect = await docker(['image', 'inspect', 'greeter:2'], env);
    expect(inspect.code).not.toBe(0);
    expect(inspect.stderr).toMatch(/No such image/);
  }, 180_000);

  it('one image id in both CLIs: build -q prints it, tag, run and rmi take its short form, and both list it', async () => {
    const mu = async (...args: string[]) => {
      const result = await muelle(args, muelleEnv, { timeoutMs: 120_000 });
      if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logs()}`);
      return result.stdout;
    };
    const context = join(work, 'ids');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:1\nLABEL purpose=ids\nCMD ["echo", "by-id"]\n');
    const built = await docker(['build', '-q', '.'], env, { cwd: context, timeoutMs: 120_000 });
    if (built.code !== 0) throw new Error(`docker build -q failed\n${built.stdout}\n${built.stderr}\n${logs()}`);
    const id = built.stdout.trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    // The same Dockerfile through /v1: the same steps from the cache, the same config, the same id.
    expect((await mu('build', '-q', context)).trim()).toBe(id);
    const short = id.slice('sha256:'.length, 'sha256:'.length + 12);
    await mu('tag', short, 'ids:1');
    expect(await ok('images', 'ids')).toMatch(new RegExp(`ids\\s+1\\s+${short}`));
    expect(await mu('images', '--no-hosts')).toMatch(new RegExp(`/ids\\s+1\\s+${short}`));
    expect((await mu('run', '--rm', short)).trim()).toBe('by-id');
    expect((await ok('run', '--rm', short)).trim()).toBe('by-id');
    // Short names resolve alike through both doors (busybox ≡ library/busybox).
    expect((await mu('run', '--rm', 'busybox:1', 'echo', 'same')).trim()).toBe('same');
    expect((await ok('run', '--rm', 'busybox:1', 'echo', 'same')).trim()).toBe('same');
    const missing = await muelle(['run', '--rm', 'busybox:nosuchtag', 'true'], muelleEnv);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such image: busybox:nosuchtag (pull it first: muelle pull busybox:nosuchtag)');
    const removed = await mu('rmi', id);
    expect(removed).toContain(`Deleted: ${id}`);
    const gone = await docker(['image', 'inspect', short], env);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/No such image/);
  }, 240_000);
  it("runs the image's HEALTHCHECK and --health-* in the container: healthy, unhealthy, in ps, inspect and events", async () => {
    const context = join(work, 'checked');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:1\nHEALTHCHECK --interval=300ms --timeout=2s --retries=2 CMD test -f /tmp/ok\n');
    await ok('build', '-t', 'checked:1', context);
    let events: ChildProcessWithoutNullStreams | undefined;
    const watched = docker(['events', '--filter', 'event=health_status', '--filter', 'container=hc', '--format', '{{.Status}}'], env, { feed: (child) => (events = child) });
    await ok('run', '-d', '--name', 'hc', 'checked:1', 'sh', '-c', 'touch /tmp/ok; exec sleep 600');
    const health = async (name: string) => (await ok('inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}} {{.State.Health.FailingStreak}}{{else}}none{{end}}', name)).trim();
    await eventually(async () => expect(await health('hc')).toBe('healthy 0'), { timeoutMs: 15_000 });
    expect((await ok('ps', '--filter', 'name=hc')).split('\n')[1]).toMatch(/Up .* \(healthy\)/);
    expect((await ok('ps', '-q', '--filter', 'health=healthy')).trim()).toBe((await ok('inspect', '--format', '{{.Id}}', 'hc')).trim().slice(0, 12));
    const listed = await getJson(`${platform.api}/v1/containers?name=hc`, { headers: bearer });
    expect(listed.body.items[0].health).toBe('healthy');
    // The probe runs as an exec does: in the container's namespaces, so the file it checks is the container's.
    await ok('exec', 'hc', 'busybox', 'rm', '/tmp/ok');
    // The failing streak keeps counting past `retries`, as Docker's does.
    await eventually(async () => expect(await health('hc')).toMatch(/^unhealthy ([2-9]|\d{2,})$/), { timeoutMs: 15_000 });
    const inspected = JSON.parse(await ok('inspect', 'hc'))[0];
    expect(inspected.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 300e6, Timeout: 2e9, StartPeriod: 0, Retries: 2 });
    expect(inspected.State.Health.Log.at(-1)).toMatchObject({ ExitCode: 1 });
    // --health-cmd and --no-healthcheck override the image's.
    await ok('run', '-d', '--name', 'hc-override', '--health-cmd', 'echo probing; exit 3', '--health-interval', '200ms', '--health-retries', '1', 'checked:1', 'sleep', '600');
    await ok('run', '-d', '--name', 'hc-none', '--no-healthcheck', 'checked:1', 'sleep', '600');
    await eventually(async () => expect(await health('hc-override')).toMatch(/^unhealthy [1-9]\d*$/), { timeoutMs: 15_000 });
    expect(JSON.parse(await ok('inspect', 'hc-override'))[0].State.Health.Log.at(-1)).toMatchObject({ ExitCode: 3, Output: 'probing\n' });
    expect(await health('hc-none')).toBe('none');
    events?.kill('SIGTERM');
    expect((await watched).stdout.split('\n').filter(Boolean)).toEqual(['health_status: starting', 'health_status: healthy', 'health_status: unhealthy']);
    await ok('rm', '-f', 'hc', 'hc-override', 'hc-none');
  }, 120_000);

  it('docker events and muelle events replay the history (--since/--until, filters); a member of another team sees none of it', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await ok('run', '--name', 'ev-one', '--label', 'ev=1', busybox, 'true');
    await ok('rm', 'ev-one');
    await ok('run', '--name', 'ev-two', '--label', 'ev=2', busybox, 'true');
    await ok('rm', 'ev-two');
    // Recorded by the api as it publishes: wait until the last one reached the history.
    const history = async (...filters: string[]) => {
      const until = String(Math.floor(Date.now() / 1000) + 1);
      return (await ok('events', '--since', since, '--until', until, ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Action}} {{.Actor.Attributes.name}}')).split('\n').filter(Boolean);
    };
    await eventually(async () => expect(await history('container=ev-two', 'event=destroy')).toEqual(['destroy ev-two']), { timeoutMs: 15_000 });
    const one = await history('container=ev-one');
    expect(one).toEqual(expect.arrayContaining(['create ev-one', 'start ev-one', 'die ev-one', 'destroy ev-one']));
    expect(one.indexOf('create ev-one')).toBeLessThan(one.indexOf('die ev-one'));
    expect(await history('label=ev=2', 'event=start')).toEqual(['start ev-two']);
    expect(await history('label=ev', 'event=die')).toEqual(['die ev-one', 'die ev-two']);
    expect((await history('type=image', 'container=ev-one')).length).toBe(0);
    // The same through muelle, as JSON lines.
    const viaMuelle = await muelle(['events', '--since', since, '--until', '0s', '-f', 'container=ev-one', '-f', 'event=start', '--format', 'json'], muelleEnv);
    expect(viaMuelle.code).toBe(0);
    expect(viaMuelle.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ type: 'container', action: 'start', attributes: expect.objectContaining({ name: 'ev-one' }), labels: expect.objectContaining({ ev: '1' }) })]);
    expect((await docker(['events', '--since', since, '--until', '0s', '--filter', 'network=x'], env)).stderr).toMatch(/the events filter network is not supported by Muelle/);
    // A member of a team sees its team's events and the platform's, not the admin's containers'.
    for (const args of [['team', 'create', 'evteam'], ['user', 'create', 'ev-dev', '--team', 'evteam', '-p', 'ev-dev-password']]) expect((await muelle(args, muelleEnv)).code).toBe(0);
    const member = await fetch(`${platform.api}/v1/auth/tokens`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('ev-dev:ev-dev-password').toString('base64')}`, 'content-type': 'application/json' }, body: '{"name":"ev"}' }).then((r) => r.json() as Promise<{ token: string }>);
    const asMember = await muelle(['events', '--since', since, '--until', '0s', '--format', 'json'], { HOME: work, MUELLE_API: platform.api, MUELLE_TOKEN: member.token });
    expect(asMember.code).toBe(0);
    expect(asMember.stdout).not.toContain('ev-one');
  }, 90_000);

  it('docker system df and muelle system df count images and their containers; image prune removes unused ones (dangling, then -a)', async () => {
    const context = join(work, 'prunable');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:1\nARG N\nLABEL prune-me=1 n=$N\n');
    const dangling = (await ok('build', '-q', '--build-arg', 'N=1', context)).trim();
    await ok('build', '-q', '--build-arg', 'N=2', '-t', 'prune-gone:1', context);
    const kept = (await ok('build', '-q', '--build-arg', 'N=3', '-t', 'prune-kept:1', context)).trim();
    await ok('create', '--name', 'uses-kept', 'prune-kept:1', 'true');
    const df = await ok('system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}');
    expect(df).toMatch(/^Images \d+ \d+$/m);
    const verbose = await ok('system', 'df', '-v');
    expect(verbose.split('\n').find((line) => line.startsWith('prune-kept'))).toMatch(/\s1\s*$/);
    const muelleDf = JSON.parse((await muelle(['system', 'df', '--format', 'json'], muelleEnv)).stdout);
    expect(muelleDf.images.find((i: { id: string }) => i.id === kept)).toMatchObject({ names: ['prune-kept:1'], containers: 1 });
    // Without -a only the image without a name goes.
    const pruned = await ok('image', 'prune', '-f', '--filter', 'label=prune-me=1');
    expect(pruned).toContain(`deleted: ${dangling}`);
    expect(pruned).not.toContain('prune-gone');
    expect(await ok('images', '-q', 'prune-gone')).not.toBe('');
    // -a: every unused one; the one a container was made from stays.
    const all = await ok('image', 'prune', '-a', '-f', '--filter', 'label=prune-me=1');
    expect(all).toMatch(/untagged: .*prune-gone:1/);
    expect(all).not.toContain('prune-kept');
    expect(await ok('images', '-q', 'prune-gone')).toBe('');
    expect((await docker(['image', 'prune', '-f', '--filter', 'until=1h'], env)).stderr).toMatch(/the image prune filter until is not supported by Muelle/);
    await ok('rm', 'uses-kept');
    const viaMuelle = await muelle(['image', 'prune', '-a', '-f', '--filter', 'label=prune-me=1'], muelleEnv);
    expect(viaMuelle.code).toBe(0);
    expect(viaMuelle.stdout).toMatch(/untagged: .*prune-kept:1/);
    expect(await ok('images', '-q', 'prune-kept')).toBe('');
  }, 120_000);

  it('docker login checks credentials against Muelle', async () => {
    const good = await docker(['login', '-u', 'admin', '--password-stdin', platform.registryAddress], env, { input: `${ADMIN_PASSWORD}\n` });
    expect(good.stdout).toContain('Login Succeeded');
    const bad = await docker(['login', '-u', 'admin', '--password-stdin', platform.registryAddress], env, { input: 'wrong\n' });
    expect(bad.code).not.toBe(0);
  }, 30_000);

  describe('names on user networks (one host: the other is cordoned, both agents share this network namespace)', () => {
    const networkIds: string[] = [];
    const remember = async (name: string) => networkIds.push((await ok('network', 'inspect', '-f', '{{.Id}}', name)).trim());
    beforeAll(async () => {
      const cordoned = await fetch(`${platform.api}/v1/hosts/dock-b/cordon`, { method: 'POST', headers: bearer });
      expect(cordoned.status).toBeLessThan(300);
    });
    afterAll(async () => {
      await fetch(`${platform.api}/v1/hosts/dock-b/uncordon`, { method: 'POST', headers: bearer });
      // Agents keep a removed network's bridge (and its subnet's route) until they stop; the next
      // run's database hands the same subnets out again, so this machine must not keep them.
      for (const id of networkIds) {
        const bridge = `mn${id.slice(0, 10)}`;
        await runCommand('ip', ['link', 'del', bridge], { env: {}, timeoutMs: 10_000 });
        for (const family of ['inet', 'bridge']) await runCommand('nft', ['delete', 'table', family, `muelle_${bridge}`], { env: {}, timeoutMs: 10_000 });
      }
    });

    it('containers resolve each other by name and alias through their network’s resolver; a name of another network does not resolve', async () => {
      await ok('network', 'create', 'names-a');
      await ok('network', 'create', 'names-b');
      await remember('names-a');
      await remember('names-b');
      const web = (await ok('run', '-d', '--name', 'names-web', '--network', 'names-a', '--network-alias', 'www', busybox, 'sh', '-c', 'exec httpd -f -p 80 -h /etc')).trim();
      await ok('run', '-d', '--name', 'names-hidden', '--network', 'names-b', busybox, 'sh', '-c', 'exec httpd -f -p 80 -h /etc');
      const inspect = JSON.parse(await ok('inspect', 'names-web'))[0];
      expect(inspect.NetworkSettings.Networks['names-a']).toMatchObject({ Aliases: ['www', web.slice(0, 12)], IPAddress: expect.stringMatching(/^10\./), MacAddress: expect.stringMatching(/^02:42:/) });
      const script = [
        'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://names-web/hostname >/dev/null 2>&1 && break; sleep 0.2; done',
        'wget -qO- http://names-web/hostname',
        'wget -qO- http://www/hostname',
        // busybox's own resolver client: the static wget's getaddrinfo crashes on a refused name.
        'nslookup names-hidden 2>&1 || echo hidden-unresolved',
        'cat /etc/resolv.conf',
      ].join('; ');
      const out = await ok('run', '--rm', '--network', 'names-a', busybox, 'sh', '-c', script);
      const hostname = inspect.Config.Hostname;
      expect(out.split('\n').filter((l) => l === hostname)).toHaveLength(2);
      const hidden = JSON.parse(await ok('inspect', 'names-hidden'))[0].NetworkSettings.Networks['names-b'].IPAddress;
      expect(hidden).toMatch(/^10\./);
      expect(out).toContain('hidden-unresolved');
      expect(out).not.toContain(hidden);
      expect(out).toContain(`nameserver ${inspect.NetworkSettings.Networks['names-a'].Gateway}`);
      await ok('rm', '-f', 'names-web', 'names-hidden');
      await ok('network', 'rm', 'names-a', 'names-b');
    }, 60_000);

    it('docker network connect joins a running container live: a peer answers by name there; after disconnect the name no longer resolves', async () => {
      await ok('network', 'create', 'conn-a');
      await ok('network', 'create', 'conn-b');
      await remember('conn-a');
      await remember('conn-b');
      await ok('run', '-d', '--name', 'conn-peer', '--network', 'conn-b', busybox, 'sh', '-c', 'exec httpd -f -p 80 -h /etc');
      await ok('run', '-d', '--name', 'conn-app', '--network', 'conn-a', busybox, 'sleep', '60');
      await ok('network', 'connect', '--alias', 'app2', 'conn-b', 'conn-app');
      const joined = JSON.parse(await ok('inspect', 'conn-app'))[0].NetworkSettings.Networks['conn-b'];
      expect(joined).toMatchObject({ Aliases: expect.arrayContaining(['app2']), IPAddress: expect.stringMatching(/^10\./) });
      expect((await docker(['network', 'connect', 'conn-b', 'conn-app'], env)).stderr).toContain('endpoint with name conn-app already exists in network conn-b');
      // The resolver reuses a network's names for 1 s: asked until the change shows (bounded).
      const peerHostname = JSON.parse(await ok('inspect', 'conn-peer'))[0].Config.Hostname;
      const reach = 'for i in $(seq 15); do wget -qO- http://conn-peer/hostname && exit 0; sleep 0.2; done; exit 1';
      expect(await ok('exec', 'conn-app', 'sh', '-c', `ip -o -4 addr show eth1; ${reach}`)).toMatch(new RegExp(`eth1\\s+inet ${joined.IPAddress.replace(/\./g, '\\.')}/24[\\s\\S]*${peerHostname}`));
      await ok('network', 'disconnect', 'conn-b', 'conn-app');
      const gone = 'for i in $(seq 15); do nslookup conn-peer >/dev/null 2>&1 || { echo unresolved; ip -o link | grep -c eth1; exit 0; }; sleep 0.2; done; echo still-resolves';
      expect((await ok('exec', 'conn-app', 'sh', '-c', gone)).trim().split('\n')).toEqual(['unresolved', '0']);
      expect(JSON.parse(await ok('inspect', 'conn-app'))[0].NetworkSettings.Networks).not.toHaveProperty('conn-b');
      await ok('rm', '-f', 'conn-app', 'conn-peer');
      await ok('network', 'rm', 'conn-a', 'conn-b');
    }, 60_000);

    it('docker-compose up -d of two services where one calls the other by name, ps, down', async () => {
      const project = join(work, 'compose-names');
      mkdirSync(project, { recursive: true });
      const client = 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:80/hostname && exit 0; sleep 0.3; done; exit 1';
      writeFileSync(
        join(project, 'docker-compose.yml'),
        ['version: "2.4"', 'services:', '  web:', `    image: ${busybox}`, '    command: ["sh", "-c", "exec httpd -f -p 80 -h /etc"]', '  client:', `    image: ${busybox}`, `    command: ["sh", "-c", ${JSON.stringify(client)}]`, '    depends_on: [web]', ''].join('\n'),
      );
      const compose = async (...args: string[]) => {
        const result = await runCommand('docker-compose', ['-p', 'cnames', ...args], { env: { ...env, HOME: env.DOCKER_CONFIG!, PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: project, timeoutMs: 60_000 });
        if (result.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logs()}`);
        return result.stdout + result.stderr;
      };
      await compose('up', '-d');
      await remember('cnames_default');
      expect((await ok('wait', 'cnames_client_1')).trim()).toBe('0');
      const webHostname = JSON.parse(await ok('inspect', 'cnames_web_1'))[0].Config.Hostname;
      expect(await ok('logs', 'cnames_client_1')).toContain(webHostname);
      expect(await compose('ps')).toMatch(/cnames_web_1\s.*Up/);
      // httpd as PID 1 ignores SIGTERM: the kill comes after a second, not compose's default ten.
      await compose('down', '-t', '1');
      expect(await ok('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=cnames')).toBe('');
      expect(await ok('network', 'ls', '-q', '--filter', 'name=cnames_default')).toBe('');
    }, 90_000);
  });

  it('answers what it does not support with a clear message, not a hang', async () => {
    for (const args of [['network', 'connect', '--ip', '10.90.0.9', 'x', 'y'], ['volume', 'create', '--driver', 'nfs', 'x'], ['run', '--privileged', busybox, 'true'], ['commit', 'x']]) {
      const result = await docker(args, env, { timeoutMs: 20_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/not supported by Muelle|No such container/);
    }
  }, 90_000);

  volumeCases(() => ({ env, muelleEnv, busybox, ok }));
});

/** The names in a tar, as GNU tar lists them. */
async function runTar(file: string): Promise<string[]> {
  const result = await runCommand('tar', ['-tf', file], { env: {}, timeoutMs: 30_000 });
  return result.stdout.split('\n').filter(Boolean).map((n) => n.replace(/\/$/, ''));
}
