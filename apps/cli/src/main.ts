#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { buildProgram, Io } from './commands';
import { CliError } from './errors';

/** Runs one CLI invocation; resolves with the process exit code (docker's conventions). */
export async function runCli(argv: string[], io: Omit<Io, 'exitCode'> = { out: process.stdout, err: process.stderr }): Promise<number> {
  const state: Io = { ...io, exitCode: 0 };
  // `--version` alone asks the server too (commander's own flag could only print a constant).
  const args = argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v') ? ['version'] : argv;
  const program = programFor(state, args[0]);
  try {
    await program.parseAsync(args, { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; usage errors are the CLI's fault: 125 like docker.
      return error.exitCode === 0 ? 0 : 125;
    }
    if (error instanceof CliError) {
      io.err.write(`Error: ${error.message}\n`);
      return error.exitCode;
    }
    io.err.write(`Error: ${(error as Error)?.message ?? error}\n`);
    return 125;
  }
}

/**
 * Only the command named first is built when there is one (`muelle ps`); the whole tree for help,
 * completion, a leading option, or a word that names no command (an alias, or a typo commander
 * answers with suggestions).
 */
function programFor(io: Io, first: string | undefined): Command {
  if (first === undefined || first.startsWith('-') || first === 'help' || first === 'completion') return buildProgram(io);
  const program = buildProgram(io, first);
  return program.commands.some((c) => c.name() === first) ? program : buildProgram(io);
}

/** Exits once stdout and stderr took everything written (process.exit would cut piped output short). */
export function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = () => --pending === 0 && process.exit(code);
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then(exitAfterFlush);
}
