import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './main';
import { loadConfig, saveLogin } from './config';

/** Runs the CLI in-process and returns what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (write: (s: string) => void) => ({ write: (s: string) => (write(s), true) }) as unknown as NodeJS.WriteStream;
  const code = await runCli(args, { out: sink((s) => (out += s)), err: sink((s) => (err += s)) });
  return { code, out, err };
}

describe('contexts and the docker CLI config', () => {
  const saved = { ...process.env };
  let home: string;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'muelle-cli-config-'));
    process.env.XDG_CONFIG_HOME = home;
    delete process.env.MUELLE_API;
    delete process.env.MUELLE_TOKEN;
    delete process.env.MUELLE_CONTEXT;
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('reads the single-endpoint file of earlier versions as the default context', () => {
    mkdirSync(join(home, 'muelle'));
    writeFileSync(join(home, 'muelle/config.json'), JSON.stringify({ api: 'http://10.0.0.1:2375', token: 'mle_old' }));
    expect(loadConfig()).toEqual({ api: 'http://10.0.0.1:2375', token: 'mle_old', context: 'default' });
  });

  it('creates, switches, lists and removes contexts, each with its own token', async () => {
    saveLogin('http://127.0.0.1:2375', 'mle_local');
    expect((await cli('context', 'create', 'prod', '--api', 'https://ctl.internal:2375/')).code).toBe(0);
    expect((await cli('context', 'create', 'prod', '--api', 'https://x:1')).err).toMatch(/already exists/);
    expect((await cli('context', 'create', 'bad name', '--api', 'https://x:1')).err).toMatch(/invalid context name/);
    expect((await cli('context', 'create', 'ftp', '--api', 'ftp://x')).err).toMatch(/invalid API URL/);
    expect((await cli('context', 'use', 'prod')).code).toBe(0);
    expect(loadConfig()).toEqual({ api: 'https://ctl.internal:2375', token: undefined, context: 'prod' });
    saveLogin('https://ctl.internal:2375', 'mle_prod');
    const ls = await cli('context', 'ls');
    expect(ls.out).toMatch(/^default\s+http:\/\/127\.0\.0\.1:2375\s+yes$/m);
    expect(ls.out).toMatch(/^prod \*\s+https:\/\/ctl\.internal:2375\s+yes$/m);
    process.env.MUELLE_CONTEXT = 'default';
    expect(loadConfig().token).toBe('mle_local');
    delete process.env.MUELLE_CONTEXT;
    expect((await cli('context', 'rm', 'prod')).err).toMatch(/in use/);
    await cli('context', 'use', 'default');
    expect((await cli('context', 'rm', 'prod')).code).toBe(0);
    expect((await cli('context', 'use', 'prod')).err).toMatch(/does not exist/);
    expect(statSync(join(home, 'muelle/config.json')).mode & 0o777).toBe(0o600);
  });

  it('docker-env writes a 0600 docker config with the bearer header and prints the exports', async () => {
    expect((await cli('docker-env')).err).toMatch(/muelle login/);
    saveLogin('http://127.0.0.1:4375', 'mle_secret');
    const { code, out } = await cli('docker-env');
    expect(code).toBe(0);
    const dir = join(home, 'muelle/docker/default');
    expect(out).toBe(`export DOCKER_HOST=tcp://127.0.0.1:4375\nexport DOCKER_CONFIG=${dir}\nunset DOCKER_TLS_VERIFY DOCKER_CERT_PATH\n`);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({ HttpHeaders: { Authorization: 'Bearer mle_secret' } });
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('refuses to prompt without a terminal, naming the way that works', async () => {
    const result = await cli('login', '-u', 'admin', 'http://127.0.0.1:1');
    expect(result.code).toBe(125);
    expect(result.err).toMatch(/--password-stdin/);
    // Likewise container prune, which asks before removing anything.
    const prune = await cli('container', 'prune');
    expect([prune.code, prune.err]).toEqual([125, 'Error: no terminal to confirm on: add --force\n']);
  });
});
