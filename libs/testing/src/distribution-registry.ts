import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { spawn } from 'node:child_process';
import { eventually } from './http';

export interface RunningDistribution {
  url: string;
  stop(): Promise<void>;
}

/**
 * The CNCF Distribution registry from Debian (`docker-registry`), started on a free loopback port
 * with a temporary filesystem root: the reference registry our clients and conformance suite are
 * checked against.
 */
export async function startDistributionRegistry(): Promise<RunningDistribution> {
  const dir = mkdtempSync(join(tmpdir(), 'distribution-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
      '  delete: { enabled: true }',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      const response = await fetch(`${url}/v2/`);
      if (response.status !== 200) throw new Error(`status ${response.status}`);
    }, { timeoutMs: 15_000 });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

