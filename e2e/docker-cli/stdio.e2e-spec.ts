import { basicAuth, inTerminal, runCommand, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { execFileSync, spawn } from 'node:child_process';
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
 * `tar c | run -i … tar x` works, and a flooding container read by slow `logs -f` and `attach`
 * clients holds the platform's memory while they get every byte (the streams' credit).
 */
const PASSWORD = 'stdio-e2e-pw';
/** What the flooding container prints (`yes`, so "y\n" over and over). */
const FLOOD_BYTES = 160 * 1024 * 1024;
/** Readers read slowly (~2 MB/s) this long, then at full speed. */
const SLOW_READING_MS = 8_000;
const YES = Buffer.from('y\n'.repeat(512 * 1024));

/** The platform process's resident memory now, in bytes. */
const rssOf = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

/**
 * Runs a docker CLI command whose output is read slowly for SLOW_READING_MS (its pipe fills, so the
 * CLI stops reading its connection), then at full speed; checks every byte is the next of `yes`.
 */
function slowYesReader(args: string[], env: Record<string, string>) {
  const child = spawn('docker', args, { env: { ...process.env, HOME: env.DOCKER_CONFIG ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const slowUntil = Date.now() + SLOW_READING_MS;
  let bytes = 0;
  let firstGap = -1;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    for (let offset = 0; offset < chunk.length && firstGap < 0; offset += YES.length - 2) {
      const part = chunk.subarray(offset, offset + YES.length - 2);
      if (!part.equals(YES.subarray((bytes + offset) % 2, ((bytes + offset) % 2) + part.length))) firstGap = bytes + offset;
    }
    bytes += chunk.length;
    if (Date.now() >= slowUntil) return;
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 30);
  });
  const done = new Promise<{ code: number | null; bytes: number; firstGap: number; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, bytes, firstGap, stderr })));
  return { done };
}
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


  /**
   * Runs `argv` in a pseudo-terminal (`script`), types `command` once the shell's prompt shows,
   * then the detach `keys` once its output came back. The input stays open (an end of it would
   * reach the shell as ctrl-d): the command must leave by itself.
   */
  const detachInTerminal = (argv: string[], env: Record<string, string>, keys: string) => {
    const [file, args] = inTerminal(argv);
    return runCommand(file, args, {
      env,
      cwd: REPO,
      timeoutMs: 8_000,
      feed(child, stdout) {
        let step = 0;
        const next = () => {
          if (step === 0 && /# (\x1b\[\d*[A-Za-z])*$/.test(stdout())) {
            step = 1;
            child.stdin.write('echo up-$((40+2))\r');
          } else if (step === 1 && stdout().includes('up-42')) {
            step = 2;
            child.stdin.write(keys);
          }
        };
        child.stdout.on('data', next);
        child.on('exit', () => child.stdin.destroy());
      },
    });
  };
  /** How many `sh` processes `docker top` lists in a container (and its output, shown when a check fails). */
  const shellsIn = async (name: string) => {
    const top = await docker(['top', name], dockerEnv);
    return { shells: top.stdout.split('\n').filter((line) => / sh$/.test(line.trimEnd())).length, top: top.stdout + top.stderr };
  };
  const stateOf = async (name: string) => (await docker(['inspect', '--format', '{{.State.Status}}', name], dockerEnv)).stdout.trim();

  beforeAll(async () => {
    // Logs rotate past the flood test's output only, so its readers can be checked for every byte.
    const aio = await allInOneEnv(join(work, 'data'), PASSWORD, 'stdio-e2e', {
      MUELLE_BRIDGE_NAME: 'muelle-stdio0',
      MUELLE_BRIDGE_SUBNET: '10.89.93.0/24',
      MUELLE_LOG_MAX_BYTES: String(FLOOD_BYTES + 64 * 1024 * 1024),
    });
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), aio.env);
    await waitReady(aio.api, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; the platform printed:\n${platform.output().slice(-4000)}`);
    });
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

  it('ctrl-p ctrl-q detaches the stock docker CLI (run -it exits 0, attach as against dockerd) and `muelle run -it`/`exec -it --detach-keys`; the containers keep running', async () => {
    try {
      const dockerTty = { ...dockerEnv, HOME: work };
      const run = await detachInTerminal(['docker', 'run', '-it', '--name', 'detach-run', image, 'sh'], dockerTty, '\x10\x11');
      expect({ code: run.code, echoed: run.stdout.includes('up-42') }).toEqual({ code: 0, echoed: true });
      expect(await stateOf('detach-run')).toBe('running');
      // dockerd 20.10 with this CLI: `docker attach` ends with "read escape sequence" and exit code 1
      // (checked against a private dockerd started as in tools/docker-parity/README.md); Muelle must do the same.
      const attach = await detachInTerminal(['docker', 'attach', 'detach-run'], dockerTty, '\x10\x11');
      expect({ code: attach.code, said: /read escape sequence/.test(attach.stdout) }).toEqual({ code: 1, said: true });
      expect(await stateOf('detach-run')).toBe('running');
      const viaMuelle = await detachInTerminal([process.execPath, join(REPO, 'tools/bin/muelle.js'), 'run', '-it', '--detach-keys', 'ctrl-x,x', '--name', 'detach-muelle', image, 'sh'], cliEnv, '\x18x');
      expect({ code: viaMuelle.code, echoed: viaMuelle.stdout.includes('up-42') }).toEqual({ code: 0, echoed: true });
      expect(await stateOf('detach-muelle')).toBe('running');
      // `muelle exec -it` detaches with the keys too: the CLI leaves with exit code 0.
      const exec = await detachInTerminal([process.execPath, join(REPO, 'tools/bin/muelle.js'), 'exec', '-it', '--detach-keys', 'ctrl-x,x', 'detach-muelle', 'sh'], cliEnv, '\x18x');
      expect({ code: exec.code, echoed: exec.stdout.includes('up-42') }).toEqual({ code: 0, echoed: true });
      // ... and the exec's shell runs on next to the container's (its input left open).
      expect(await shellsIn('detach-muelle')).toMatchObject({ shells: 2 });
    } finally {
      // They keep running by design: removed here whatever the outcome.
      await docker(['rm', '-f', 'detach-run', 'detach-muelle'], dockerEnv);
    }
  }, 40_000);

  it('ctrl-p ctrl-q detaches `docker exec -it` as dockerd over TCP does (exit 0, no message); the exec’s shell runs on', async () => {
    try {
      await docker(['run', '-d', '-it', '--name', 'detach-exec', image, 'sh'], dockerEnv);
      // dockerd 20.10 behind a TCP relay, with this CLI: exit 0 and nothing said (the CLI half-closes; the
      // server ends the stream). Over dockerd's unix socket the CLI says "read escape sequence" and exits 1.
      const exec = await detachInTerminal(['docker', 'exec', '-it', 'detach-exec', 'sh'], { ...dockerEnv, HOME: work }, '\x10\x11');
      expect({ code: exec.code, echoed: exec.stdout.includes('up-42'), said: /escape/.test(exec.stdout) }).toEqual({ code: 0, echoed: true, said: false });
      // The create's DetachKeys are taken (dockerd's exec create takes them too).
      const keyed = await detachInTerminal(['docker', 'exec', '-it', '--detach-keys', 'ctrl-x,x', 'detach-exec', 'sh'], { ...dockerEnv, HOME: work }, '\x18x');
      expect({ code: keyed.code, echoed: keyed.stdout.includes('up-42') }).toEqual({ code: 0, echoed: true });
      // The container's sh and both detached execs' (their input left open, so neither read an end of file).
      expect(await shellsIn('detach-exec')).toMatchObject({ shells: 3 });
    } finally {
      await docker(['rm', '-f', 'detach-exec'], dockerEnv);
    }
  }, 20_000);

  it('docker system df measures a container: SizeRw is its writable layer, SizeRootFs adds the image', async () => {
    const id = (await docker(['run', '-d', '--name', 'sized', image, 'sh', '-c', 'head -c 1048576 /dev/zero > /big && sleep 60'], dockerEnv)).stdout.trim();
    try {
      const authorization = JSON.parse(readFileSync(join(dockerEnv.DOCKER_CONFIG, 'config.json'), 'utf8')).HttpHeaders.Authorization as string;
      const sizes = async () => {
        const df = (await fetch(`${dockerEnv.DOCKER_HOST.replace('tcp://', 'http://')}/v1.41/system/df`, { headers: { authorization } }).then((r) => r.json())) as { Containers: Array<{ Id: string; SizeRw?: number; SizeRootFs?: number }> };
        return df.Containers.find((c) => c.Id === id);
      };
      let measured = await sizes();
      for (let tries = 0; tries < 20 && !(measured?.SizeRw && measured.SizeRw >= 1048576); tries++) {
        await new Promise((r) => setTimeout(r, 250));
        measured = await sizes();
      }
      // The file plus a directory entry or two (/big, and the root's own size).
      expect(measured?.SizeRw).toBeGreaterThanOrEqual(1048576);
      expect(measured?.SizeRw).toBeLessThan(1048576 + 64 * 1024);
      // busybox-static's layer is about a megabyte or more.
      expect(measured!.SizeRootFs! - measured!.SizeRw!).toBeGreaterThan(500_000);
    } finally {
      await docker(['rm', '-f', 'sized'], dockerEnv);
    }
  }, 30_000);

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

  it('a flooding container read by a slow `logs -f` and a slow `attach`: memory stays bounded, both get every byte in order', async () => {
    const pid = platform.child.pid as number;
    const name = 'flood';
    // The pause lets both readers connect before the flood, so each must see all of it.
    const started = await docker(['run', '-d', '--name', name, image, 'sh', '-c', `sleep 3; yes | head -c ${FLOOD_BYTES}`], dockerEnv);
    expect(started.code).toBe(0);
    const baseline = rssOf(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 100);
    const begun = Date.now();
    try {
      const readers = [slowYesReader(['logs', '-f', name], dockerEnv), slowYesReader(['attach', '--no-stdin', name], dockerEnv)];
      const [logs, attach] = await Promise.all(readers.map((r) => r.done));
      const seconds = (Date.now() - begun) / 1000;
      console.log(
        `flood of ${FLOOD_BYTES / 1024 / 1024} MiB, slow logs -f and attach readers: ${seconds.toFixed(1)} s, ` +
          `platform RSS ${(baseline / 1e6).toFixed(0)} MB before, peak ${(peak / 1e6).toFixed(0)} MB (+${((peak - baseline) / 1e6).toFixed(0)} MB)`,
      );
      expect({ code: logs.code, bytes: logs.bytes, firstGap: logs.firstGap, stderr: logs.stderr }).toEqual({ code: 0, bytes: FLOOD_BYTES, firstGap: -1, stderr: '' });
      expect({ code: attach.code, bytes: attach.bytes, firstGap: attach.firstGap, stderr: attach.stderr }).toEqual({ code: 0, bytes: FLOOD_BYTES, firstGap: -1, stderr: '' });
      expect(peak - baseline).toBeLessThan(200 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
      await docker(['rm', '-f', name], dockerEnv);
    }
  }, 120_000);
});
