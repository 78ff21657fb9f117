import { execFileSync } from 'node:child_process';
import { buildProgram, Io } from '../commands';
import { commandTree, completionScript } from './completion';

const io = { out: process.stdout, err: process.stderr, exitCode: 0 } as Io;

/** Completes `line` (the cursor at its end) with the generated script in a real bash. */
function complete(line: string): string[] {
  const words = line.split(' ');
  const script = `${completionScript(buildProgram(io), 'bash')}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_muelle_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['--norc', '--noprofile'], { input: script, encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('muelle completion', () => {
  it('lists every command of the program, with its flags', () => {
    const tree = commandTree(buildProgram(io));
    const root = tree.find((n) => n.path === '');
    expect(root?.words).toEqual(expect.arrayContaining(['run', 'ps', 'context', 'docker-env', 'completion', 'stats', 'container']));
    expect(tree.find((n) => n.path === 'context')?.words).toEqual(expect.arrayContaining(['ls', 'use', 'create', 'rm']));
    expect(tree.find((n) => n.path === 'volume')?.words).toEqual(expect.arrayContaining(['create', 'ls', 'inspect', 'rm', 'prune']));
    expect(tree.find((n) => n.path === 'run')?.words).toEqual(expect.arrayContaining(['--pids-limit', '-d', '--detach']));
  });

  it('completes subcommands and flags in bash', () => {
    expect(complete('muelle con')).toEqual(['container', 'context']);
    expect(complete('muelle context u')).toEqual(['use']);
    expect(complete('muelle volume p')).toEqual(['prune']);
    expect(complete('muelle run --pids')).toEqual(['--pids-limit']);
    // Arguments do not move the position: the flags of `logs` follow a container name.
    expect(complete('muelle logs web --un')).toEqual(['--until']);
  });

  it('makes a zsh script that loads the same function through bashcompinit', () => {
    const zsh = completionScript(buildProgram(io), 'zsh');
    expect(zsh).toMatch(/^#compdef muelle/);
    expect(zsh).toContain('bashcompinit');
    expect(zsh).toContain('complete -F _muelle_complete muelle');
  });
});
