import { eventually, freePort, getJson, RunningNats, serviceEntry, spawnNode, ServiceProcess, startNatsServer } from '@muelle/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real agent process (runtime disabled: only its bus matters here) against private nats-servers:
 * one that requires a user and password, as production does, and one left open.
 */
describe('the bus: a service needs credentials for NATS', () => {
  let secured: RunningNats;
  let open: RunningNats;
  const processes: ServiceProcess[] = [];
  const work = mkdtempSync(join(tmpdir(), 'muelle-bus-auth-'));

  const startAgent = async (name: string, env: Record<string, string>) => {
    const port = await freePort();
    const child = spawnNode(name, serviceEntry('agent'), {
      MUELLE_RUNTIME: 'disabled',
      MUELLE_AGENT_PORT: String(port),
      MUELLE_DATA_DIR: join(work, name),
      MUELLE_HOST_ID: name,
      MUELLE_LOG_LEVEL: 'warn',
      ...env,
    });
    processes.push(child);
    return { child, url: `http://127.0.0.1:${port}` };
  };
  const busIsUp = (url: string, child: ServiceProcess) =>
    eventually(async () => {
      const { body } = await getJson(`${url}/readyz`);
      if (body?.checks?.bus !== 'ok') throw new Error(`bus not ready: ${JSON.stringify(body)}\n${child.output()}`);
    });

  beforeAll(async () => {
    secured = await startNatsServer();
    open = await startNatsServer({ auth: 'none' });
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([secured?.stop(), open?.stop()]);
  });

  it('connects with a user and password, also read from a *_FILE', async () => {
    const passwordFile = join(work, 'nats-password');
    writeFileSync(passwordFile, `${secured.env.NATS_PASSWORD}\n`, { mode: 0o600 });
    const { child, url } = await startAgent('with-file', { NATS_URL: secured.url, NATS_USER: secured.env.NATS_USER, NATS_PASSWORD_FILE: passwordFile });
    await busIsUp(url, child);
  }, 30_000);

  it('refuses to start without credentials, saying so in one line', async () => {
    const { child } = await startAgent('without', { NATS_URL: secured.url });
    expect((await child.exited).code).toBe(2);
    expect(child.output().trim().split('\n')).toEqual([
      'muelle agent: invalid configuration: NATS_URL: no credentials for the bus: set NATS_USER and NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED or NATS_CREDS_FILE (or their *_FILE variants), or MUELLE_BUS_INSECURE=true to use a NATS without authentication',
    ]);
  }, 30_000);

  it('stops with one line when NATS refuses its credentials', async () => {
    const attempts: Array<Record<string, string>> = [{ MUELLE_BUS_INSECURE: 'true' }, { NATS_USER: secured.env.NATS_USER, NATS_PASSWORD: 'not-the-password' }];
    for (const env of attempts) {
      const { child } = await startAgent(`refused-${Object.keys(env).length}`, { NATS_URL: secured.url, ...env });
      expect((await child.exited).code).toBe(2);
      expect(child.output()).toMatch(/^muelle agent: NATS refused the bus credentials \(.*Authorization Violation.*\): check NATS_USER/m);
    }
  }, 30_000);

  it('uses an open NATS when MUELLE_BUS_INSECURE=true says it is deliberate', async () => {
    const { child, url } = await startAgent('insecure', { NATS_URL: open.url, MUELLE_BUS_INSECURE: 'true' });
    await busIsUp(url, child);
  }, 30_000);
});
