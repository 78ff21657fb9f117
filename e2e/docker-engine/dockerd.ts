import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@muelle/testing';

/** Where Debian's docker.io puts the daemon; `undefined` when it is not installed. */
export function findDockerd(): string | undefined {
  return ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((path) => existsSync(path));
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A private Docker engine for one test file: its own data and exec roots, socket, pid file and
 * containerd namespace, no iptables and no bridge, so it touches nothing of a dockerd the machine
 * may already run. Loopback registries are insecure (plain http) by default in dockerd.
 */
export class PrivateDockerd {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly child: ChildProcess,
    private readonly log: () => string,
  ) {}

  /** The exact command line (also documented in e2e/docker-engine/README.md). */
  static args(dir: string): string[] {
    const namespace = `muelle-e2e-${process.pid}`;
    return [
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '-H', `unix://${join(dir, 'docker.sock')}`,
      '--iptables=false',
      '--bridge=none',
      '--containerd-namespace', namespace,
      '--containerd-plugins-namespace', `${namespace}-plugins`,
    ];
  }

  static async start(dockerd: string): Promise<PrivateDockerd> {
    // Short path: unix socket paths are limited to 107 bytes.
    const dir = mkdtempSync(join(tmpdir(), 'mdk-'));
    const child = spawn(dockerd, PrivateDockerd.args(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const engine = new PrivateDockerd(dir, join(dir, 'docker.sock'), child, () => output);
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}`);
        const version = await engine.docker(['version', '--format', '{{.Server.Version}}']);
        if (version.code !== 0) throw new Error(version.stderr);
      }, { timeoutMs: 60_000, intervalMs: 300 });
    } catch (error) {
      await engine.stop();
      throw new Error(`dockerd did not start: ${(error as Error).message}\n${output.slice(-3000)}`);
    }
    return engine;
  }

  /** Runs the `docker` CLI against this engine; `configDir` is its DOCKER_CONFIG (credentials). */
  docker(args: string[], options: { configDir?: string; input?: string } = {}): Promise<CommandResult> {
    return new Promise((resolve) => {
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir, DOCKER_HOST: `unix://${this.socket}`, ...(options.configDir ? { DOCKER_CONFIG: options.configDir } : {}) };
      const child = execFile('docker', args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(options.input ?? '');
    });
  }

  output(): string {
    return this.log();
  }

  /** SIGTERM to our own dockerd (it stops its containerd and unmounts), then removes its dirs. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
