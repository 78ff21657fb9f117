import { PassThrough } from 'node:stream';
import { buildProgram, Io } from './commands';
import { runCli } from './main';

/** Runs the CLI with captured output; no api is reached by any case here. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: '', err: '' };
  out.on('data', (c) => (text.out += c));
  err.on('data', (c) => (text.err += c));
  const code = await runCli(argv, { out: out as unknown as NodeJS.WriteStream, err: err as unknown as NodeJS.WriteStream });
  return { code, ...text };
}

describe('muelle start-up: only the command asked for is built', () => {
  const io = { out: process.stdout, err: process.stderr, exitCode: 0 } as Io;

  it('builds one top-level command when told which, with all its options and subcommands', () => {
    const names = (only?: string) => buildProgram(io, only).commands.map((c) => c.name());
    expect(names('ps')).toEqual(['ps']);
    expect(names('network')).toEqual(['network']);
    expect(buildProgram(io, 'network').commands[0].commands.map((c) => c.name())).toEqual(expect.arrayContaining(['ls', 'create', 'rm', 'connect', 'disconnect']));
    // Both registrations of `team` (members and admin) land on the one command.
    expect(buildProgram(io, 'team').commands[0].commands.length).toBe(buildProgram(io).commands.find((c) => c.name() === 'team')?.commands.length);
    expect(names().length).toBeGreaterThan(30);
  });

  it('answers a command’s help from the command alone', async () => {
    const { code, out } = await run('ps', '--help');
    expect(code).toBe(0);
    expect(out).toContain('--all');
  });

  it('still lists every command in the top-level help and the completion script', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/\brun \[options\]/);
    expect(help.out).toMatch(/\bnetwork\b/);
    const completion = await run('completion', 'bash');
    expect(completion.out).toContain('"network ls")');
    expect(completion.out).toContain('"ps")');
  });

  it('reports an unknown command from the whole tree, with a suggestion', async () => {
    const { code, err } = await run('netwrk', 'ls');
    expect(code).toBe(125);
    expect(err).toContain("unknown command 'netwrk'");
    expect(err).toContain('network');
  });
});
