import { createRegistryClient } from '@muelle/registry-client';
import { eventually, freePort, inTerminal, repoRoot, runCommand } from '@muelle/testing';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { muelle, muelleBin, muelleInTerminal } from './cli';
import { ADMIN_PASSWORD, logsOf, Platform, startPlatform } from './platform';

/**
 * Every command of the seed (`../shared/seed-contenedores.md`) with the `muelle` CLI against a
 * distributed platform: pull, images, run -d -p (+ a request to the port), ps, exec -it, stop,
 * ps -a, rm, tag, push.
 */
describe('the seed, end to end with the muelle CLI', () => {
  let platform: Platform;
  let env: Record<string, string>;
  let containerId: string;
  let hostPort: number;

  const cli = async (...args: string[]) => {
    const result = await muelle(args, env);
    if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logsOf(platform)}`);
    return result.stdout;
  };

  beforeAll(async () => {
    platform = await startPlatform({ agents: [{ hostId: 'seed-host' }] });
    env = { HOME: mkdtempSync(join(tmpdir(), 'muelle-home-')) };
    hostPort = await freePort();
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it('logs in and stores the token in ~/.config/muelle/config.json (0600)', async () => {
    const out = await cli('login', '-u', 'admin', '-p', ADMIN_PASSWORD, platform.api);
    expect(out).toMatch(/Login Succeeded/);
    const path = join(env.HOME, '.config/muelle/config.json');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ current: 'default', contexts: { default: { api: platform.api, token: expect.stringMatching(/^mle_/) } } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  }, 30_000);

  it('docker pull nombre:tag → muelle pull copies the image into the platform registry', async () => {
    const out = await cli('pull', `${platform.other.host}/library/busybox:1`);
    expect(out).toContain(`${platform.registryAddress}/library/busybox:1`);
    expect(out).toMatch(/Digest: sha256:[a-f0-9]{64}/);
  }, 60_000);

  it('docker images → muelle images lists it', async () => {
    const out = await cli('images');
    expect(out.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+HOSTS/);
    expect(out).toMatch(new RegExp(`${platform.registryAddress.replace(/\./g, '\\.')}/library/busybox\\s+1\\s+[a-f0-9]{12}`));
  }, 30_000);

  it('docker run -d -p → muelle run -d -p, and a request reaches the published port', async () => {
    const out = await cli(
      'run',
      '-d',
      '-p',
      `${hostPort}:8080`,
      '--name',
      'seed-web',
      'library/busybox:1',
      'sh',
      '-c',
      'mkdir -p /www && echo hola-muelle > /www/index.html && exec httpd -f -p 8080 -h /www',
    );
    containerId = out.trim();
    expect(containerId).toMatch(/^[a-f0-9]{64}$/);
    const body = await eventually(
      async () => {
        const response = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(2_000) });
        return response.text();
      },
      { timeoutMs: 30_000 },
    );
    expect(body.trim()).toBe('hola-muelle');
  }, 90_000);

  it('docker ps → muelle ps shows it running with its port', async () => {
    const out = await cli('ps');
    expect(out).toContain(containerId.slice(0, 12));
    expect(out).toMatch(/Up /);
    expect(out).toContain(`${hostPort}->8080/tcp`);
    expect((await cli('ps', '-q')).trim().split('\n')).toContain(containerId.slice(0, 12));
  }, 30_000);

  it('muelle port shows where the container port is published; muelle top its processes', async () => {
    expect(await cli('port', 'seed-web')).toMatch(new RegExp(`^8080/tcp -> [0-9.]+:${hostPort}\n$`));
    expect(await cli('port', 'seed-web', '8080/tcp')).toMatch(new RegExp(`^[0-9.]+:${hostPort}\n$`));
    const missing = await muelle(['port', 'seed-web', '9999'], env);
    expect([missing.code, missing.stderr]).toEqual([1, "Error: no public port '9999' published for seed-web\n"]);
    const top = await cli('top', 'seed-web');
    expect(top).toMatch(/^UID\s+PID\s+PPID\s+TIME\s+CMD\n/);
    expect(top).toMatch(/^0\s+\d+\s+\d+\s+\d{2}:\d{2}:\d{2}\s+httpd -f -p 8080 -h \/www$/m);
  }, 30_000);

  it('muelle stats --no-stream prints one sample; muelle stats keeps refreshing until interrupted', async () => {
    const once = await cli('stats', '--no-stream', 'seed-web');
    expect(once).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+PIDS\n[a-f0-9]{12}\s+seed-web\s+\d+\.\d+%\s+\S+ \/ \S+\s+\d+\.\d+%\s+[1-9]\d*\n$/);
    const started = Date.now();
    const streamed = await runCommand(process.execPath, [muelleBin, 'stats', 'seed-web'], {
      env: { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: 20_000,
      feed(child, stdout) {
        child.stdin.end();
        child.stdout.on('data', () => stdout().split('CONTAINER ID').length > 2 && child.kill('SIGINT'));
      },
    });
    expect(streamed.stdout.split('CONTAINER ID').length).toBeGreaterThan(2);
    expect(Date.now() - started).toBeGreaterThan(1_000);
  }, 30_000);

  it('docker exec -it id bash → muelle exec -it id sh runs a scripted terminal session', async () => {
    const result = await muelleInTerminal(['exec', '-it', containerId.slice(0, 12), 'sh'], env, 'echo "answer=$((6*7))"\ntty\nexit 3\n');
    expect(result.stdout).toContain('answer=42');
    expect(result.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(result.code).toBe(3);
  }, 60_000);

  it('docker stop → muelle stop; ps hides it and ps -a shows it exited', async () => {
    // -t 1: httpd, PID 1 with no SIGTERM handler, ignores it, so the whole grace (10 s by default) would pass.
    expect((await cli('stop', '-t', '1', containerId.slice(0, 12))).trim()).toBe(containerId.slice(0, 12));
    await eventually(async () => {
      const ps = await cli('ps');
      if (ps.includes(containerId.slice(0, 12))) throw new Error('still listed as running');
    });
    const all = await cli('ps', '-a');
    expect(all).toMatch(new RegExp(`${containerId.slice(0, 12)}.*Exited \\(\\d+\\)`));
  }, 60_000);

  it('docker rm → muelle rm removes it for good', async () => {
    await cli('rm', containerId.slice(0, 12));
    expect(await cli('ps', '-a')).not.toContain(containerId.slice(0, 12));
    const missing = await muelle(['rm', containerId.slice(0, 12)], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such container/);
  }, 30_000);

  it('muelle rename, muelle wait, muelle logs --since/--until and muelle container prune', async () => {
    const run = await muelle(['run', '--name', 'said', 'library/busybox:1', 'sh', '-c', 'echo hola; exit 6'], env);
    expect(run.stdout).toBe('hola\n');
    await cli('rename', 'said', 'said-again');
    expect((await cli('wait', 'said-again')).trim()).toBe('6');
    const view = JSON.parse(await cli('inspect', 'said-again'))[0];
    expect(view.name).toBe('said-again');
    const created = Date.parse(view.createdAt);
    expect(await cli('logs', '--since', new Date(created - 1_000).toISOString(), 'said-again')).toBe('hola\n');
    expect(await cli('logs', '--until', new Date(created - 1_000).toISOString(), 'said-again')).toBe('');
    const pruned = await cli('container', 'prune', '-f');
    expect(pruned).toContain(`Deleted Containers:\n${view.id}\n`);
    expect(pruned).toMatch(/Total containers removed: 1\n$/);
  }, 60_000);

  it('muelle --version names the CLI and the server it reaches', async () => {
    expect(await cli('--version')).toBe(`Client: muelle 0.1.0\nServer: muelle 0.1.0 (API v1) at ${platform.api}\n`);
  }, 30_000);

  it('muelle context switches endpoints; muelle login asks for the password on a terminal without echo', async () => {
    await cli('context', 'create', 'second', '--api', platform.api);
    await cli('context', 'use', 'second');
    const secret = ADMIN_PASSWORD;
    const [file, argv] = inTerminal([process.execPath, muelleBin, 'login', '-u', 'admin']);
    const login = await runCommand(file, argv, {
      env: { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      cwd: repoRoot,
      timeoutMs: 30_000,
      feed(child, stdout) {
        let typed = false;
        child.stdout.on('data', () => {
          if (!typed && stdout().includes('Password: ')) {
            typed = true;
            child.stdin.write(`${secret}\r`);
          }
        });
      },
    });
    expect(login.stdout).toContain('Login Succeeded');
    expect(login.stdout).not.toContain(secret);
    expect(await cli('ps', '-a', '-q')).toBe('');
    await cli('context', 'use', 'default');
    await cli('context', 'rm', 'second');
  }, 60_000);

  it('docker tag + docker push servidor/usuario/imagen → muelle tag + push sends it to the other registry', async () => {
    const target = `${platform.other.host}/usuario/imagen:seed`;
    await cli('tag', 'library/busybox:1', target);
    const out = await cli('push', target);
    expect(out).toMatch(/digest: sha256:[a-f0-9]{64}/);
    const other = createRegistryClient({ baseUrl: platform.other.url });
    expect(await other.listTags('usuario/imagen')).toEqual(['seed']);
  }, 60_000);

  it('docker build ./ (FROM, COPY, EXPOSE) → muelle build, and the image runs with --rm in the foreground', async () => {
    const context = mkdtempSync(join(tmpdir(), 'seed-build-'));
    writeFileSync(join(context, 'Dockerfile'), 'FROM library/busybox:1\nCOPY target/petclinic.war /usr/local/tomcat/webapps/\nEXPOSE 8080\n');
    mkdirSync(join(context, 'target'));
    writeFileSync(join(context, 'target/petclinic.war'), 'not really a war\n');
    const built = await cli('build', '-t', 'usuario/petclinic:1', context);
    expect(built).toMatch(/Step 1\/3 : FROM library\/busybox:1/);
    expect(built).toMatch(/Successfully built sha256:[a-f0-9]{64}/);
    expect(built).toContain(`Successfully tagged ${platform.registryAddress}/usuario/petclinic:1`);
    const run = await muelle(['run', '--rm', 'usuario/petclinic:1', 'sh', '-c', 'cat /usr/local/tomcat/webapps/petclinic.war; exit 4'], env);
    expect(run.stdout).toBe('not really a war\n');
    expect(run.code).toBe(4);
    await eventually(async () => {
      if ((await cli('ps', '-a', '--format', 'json')).includes('usuario/petclinic')) throw new Error('--rm container still listed');
    });
  }, 120_000);

  it('answers a missing container with exit code 1 and an unknown flag with 125', async () => {
    expect((await muelle(['stop', 'nope-not-here'], env)).code).toBe(1);
    expect((await muelle(['ps', '--bogus'], env)).code).toBe(125);
  }, 30_000);
});
