import { freePort, repoRoot, RunningNats, ServiceProcess, serviceEntry, spawnNode, startNatsServer, waitReady } from '@muelle/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The README's "First steps", run as written: every ```sh block of that section, in order, in one
 * bash with `set -euo pipefail`, against a fresh all-in-one started as its ```sh start block says.
 * Only what a second machine would change is changed: the ports (free ones instead of 2375, 5000
 * and 8080), `npx muelle` runs the bin npx would run, and, for the second host's agent, a bridge of its own. The platform runs on a NATS with
 * a user (what the tour's "second host" step asks for) and the tour shell gets that bus's settings.
 */
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## First steps'), readme.indexOf('\n## ', readme.indexOf('## First steps') + 1));
const blocks = [...section.matchAll(/```sh( start)?\n([\s\S]*?)```/g)].map((m) => ({ start: !!m[1], text: m[2] }));

describe('README first steps', () => {
  let nats: RunningNats;
  let platform: ServiceProcess;
  let home: string;
  const ports = { api: 0, registry: 0, published: 0, agent: 0 };
  let busEnv: Record<string, string>;

  beforeAll(async () => {
    expect(section).toContain('## First steps');
    expect(blocks.filter((b) => b.start)).toHaveLength(1);
    const password = /MUELLE_ADMIN_PASSWORD='([^']+)' npm start/.exec(blocks.find((b) => b.start)!.text)?.[1];
    expect(password).toBeDefined();
    for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
    home = mkdtempSync(join(tmpdir(), 'muelle-tour-'));
    nats = await startNatsServer();
    busEnv = { ...nats.env, MUELLE_BUS_NAMESPACE: `tour-${ports.api}` };
    // What `npm start` runs after its build step, on the bus the second host joins.
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), {
      ...busEnv,
      HOME: home,
      MUELLE_ADMIN_PASSWORD: password!,
      MUELLE_DATA_DIR: join(home, 'data'),
      MUELLE_API_PORT: String(ports.api),
      MUELLE_REGISTRY_PORT: String(ports.registry),
      MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0',
      MUELLE_HOST_ID: 'host-a',
      MUELLE_BRIDGE_NAME: 'mltour0', MUELLE_BRIDGE_SUBNET: '10.89.251.0/24',
      MUELLE_LOG_LEVEL: 'warn',
    });
    await waitReady(`http://127.0.0.1:${ports.api}`, 60_000);
  }, 90_000);

  afterAll(async () => {
    await platform?.stop();
    await nats?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('runs from login to a container on a second host', async () => {
    const script = blocks
      .filter((b) => !b.start)
      .map((b) => b.text)
      .join('\n')
      .replaceAll('127.0.0.1:2375', `127.0.0.1:${ports.api}`)
      .replaceAll('127.0.0.1:5000', `127.0.0.1:${ports.registry}`)
      .replaceAll('8080', String(ports.published))
      .replaceAll('/tmp/busybox-oci', join(home, 'busybox-oci'))
      // What `npx muelle` runs, without npx's own start-up (~0.4 s a call, twenty calls).
      .replaceAll('npx muelle ', `${process.execPath} ${join(repoRoot, 'tools/bin/muelle.js')} `);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ...busEnv,
      // The second host's own settings: on another machine these would be its defaults.
      MUELLE_AGENT_PORT: String(ports.agent),
      MUELLE_BRIDGE_NAME: 'mltour1', MUELLE_BRIDGE_SUBNET: '10.89.252.0/24',
      MUELLE_REGISTRY_ADDRESS: `127.0.0.1:${ports.registry}`,
      MUELLE_LOG_LEVEL: 'warn',
    };
    const { code, output } = await runTour(`set -euo pipefail\n${script}`, env, 240_000);
    if (code !== 0) throw new Error(`the tour stopped (exit ${code}):\n${output}\n--- second host's agent:\n${safeRead(join(home, 'host-b.log'))}`);
    expect(output).toContain('hello from muelle');
    expect(output).toContain('hello from the docker CLI');
    expect(output).toContain('hello from team blue');
    expect(output).toMatch(/bind mount of \/etc[\s\S]*refused: binding a host folder needs the team policy/);
    expect(output).toMatch(/^host-b\s.*ready/m);
    expect(output).toContain('hello from host-b');
  }, 300_000);
});

/** Runs the script in its own process group, so the agent it starts in the background stops with it. */
function runTour(script: string, env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const timer = setTimeout(() => killGroup('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      killGroup('SIGTERM');
      resolve({ code, output });
    });
  });
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return `(${(error as Error).message})`;
  }
}
