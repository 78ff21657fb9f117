import { basicAuth, runCommand, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { allInOneEnv } from '../chaos/all-in-one-env';
import { muelle } from '../control-plane/cli';
import { docker } from './docker';

/**
 * Container stdio as bytes through the stock docker CLI and the muelle bin, on one all-in-one
 * with a real runtime (run under flock /tmp/muelle-kernel.lock): piped stdin reaches end-of-file,
 * 100 MB go through `run -i … cat` byte for byte, a prompt without newline shows before any input,
 * and `tar c | run -i … tar x` works.
 */
const PASSWORD = 'stdio-e2e-pw';
const REPO = resolve(__dirname, '..', '..');

describe('container stdio as bytes (docker CLI and muelle)', () => {
  const work = mkdtempSync(join(tmpdir(), 'muelle-stdio-'));
  let platform: ServiceProcess;
  let dockerEnv: Record<string, string>;
  let cliEnv: Record<string, string>;
  let image = '';

  /** A shell pipeline with the docker CLI's environment (for redirections and `|`). */
  const shell = (script: string, timeoutMs = 120_000) => runCommand('sh', ['-c', script], { env: { ...dockerEnv, HOME: work, IMAGE: image }, cwd: work, timeoutMs });
  /** Runs a command, types `answer` once `prompt` showed on its output, then closes its input. */
  const answerPrompt = (file: string, args: string[], env: Record<string, string>, prompt: string, answer: string) =>
    runCommand(file, args, {
      env,
      cwd: REPO,
      timeoutMs: 60_000,
      feed(child, stdout) {
        const check = () => {
          if (!stdout().includes(prompt)) return;
          child.stdout.off('data', check);
          child.stdin.end(answer);
        };
        child.stdout.on('data', check);
      },
    });

  beforeAll(async () => {
    const aio = await allInOneEnv(join(work, 'data'), PASSWORD, 'stdio-e2e', { MUELLE_BRIDGE_NAME: 'muelle-stdio0', MUELLE_BRIDGE_SUBNET: '10.89.93.0/24' });
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), aio.env);
    await waitReady(aio.api, 60_000);
    const registryHost = new URL(aio.registry).host;
    const layout = mkdtempSync(join(tmpdir(), 'stdio-layout-'));
    execFileSync('node', [join(REPO, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', 'latest'], { stdio: 'pipe' });
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `admin:${PASSWORD}`, `oci:${layout}:latest`, `docker://${registryHost}/library/busybox:latest`], { stdio: 'pipe' });
    rmSync(layout, { recursive: true, force: true });
    image = `${registryHost}/library/busybox:latest`;
    const token = await fetch(`${aio.api}/v1/auth/tokens`, { method: 'POST', headers: { ...basicAuth('admin', PASSWORD), 'content-type': 'application/json' }, body: '{"name":"stdio"}' }).then((r) => r.json() as Promise<{ token: string }>);
    const config = join(work, 'docker-config');
    mkdirSync(config);
    writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token.token}` } }));
    dockerEnv = { DOCKER_HOST: aio.api.replace('http://', 'tcp://'), DOCKER_CONFIG: config };
    cliEnv = { HOME: work, MUELLE_API: aio.api, MUELLE_TOKEN: token.token };
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    execFileSync('ip', ['link', 'del', 'muelle-stdio0'], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('piped stdin reaches end-of-file: `echo hello | … run --rm -i … cat` prints and exits, through both CLIs', async () => {
    const viaDocker = await docker(['run', '--rm', '-i', image, 'cat'], dockerEnv, { input: 'hello\n', timeoutMs: 30_000 });
    expect(viaDocker).toMatchObject({ code: 0, stdout: 'hello\n' });
    const viaMuelle = await muelle(['run', '--rm', '-i', image, 'cat'], cliEnv, { input: 'hello\n', timeoutMs: 30_000 });
    expect(viaMuelle).toMatchObject({ code: 0, stdout: 'hello\n' });
  }, 60_000);

  it('a prompt without newline appears before the input is typed', async () => {
    const script = ['sh', '-c', 'printf "name? "; read n; echo "hi $n"'];
    const viaDocker = await answerPrompt('docker', ['run', '--rm', '-i', image, ...script], { ...dockerEnv, HOME: work }, 'name? ', 'bob\n');
    expect(viaDocker).toMatchObject({ code: 0, stdout: 'name? hi bob\n' });
    const viaMuelle = await answerPrompt(process.execPath, [join(REPO, 'tools/bin/muelle.js'), 'run', '--rm', '-i', image, ...script], cliEnv, 'name? ', 'ann\n');
    expect(viaMuelle).toMatchObject({ code: 0, stdout: 'name? hi ann\n' });
  }, 60_000);

  it('100 MB through `docker run -i … cat` come back byte-identical', async () => {
    const input = join(work, 'random.bin');
    execFileSync('sh', ['-c', `head -c ${100 * 1024 * 1024} /dev/urandom > ${input}`]);
    const expected = createHash('sha256').update(readFileSync(input)).digest('hex');
    const started = Date.now();
    const result = await shell(`docker run --rm -i "$IMAGE" cat < ${input} | sha256sum`, 240_000);
    const seconds = (Date.now() - started) / 1000;
    console.log(`100 MB through docker run -i cat: ${seconds.toFixed(1)} s, ${(100 / seconds).toFixed(1)} MB/s`);
    expect(result.code).toBe(0);
    expect(result.stdout.split(' ')[0]).toBe(expected);
  }, 300_000);

  it('`tar c . | docker run -i … tar x` unpacks the stream in the container', async () => {
    const dir = join(work, 'tree');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'file.txt'), 'content\n');
    const result = await shell(`tar c -C ${dir} . | docker run --rm -i "$IMAGE" sh -c 'mkdir /x && tar x -C /x && cat /x/sub/file.txt'`);
    expect(result).toMatchObject({ code: 0, stdout: 'content\n' });
  }, 60_000);
});
