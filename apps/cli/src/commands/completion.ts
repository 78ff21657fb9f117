import { Command } from 'commander';
import type { Io } from '../commands';
import { CliError } from '../errors';

interface CommandNode {
  path: string;
  words: string[];
}

/** Every command path (`''`, `container`, `user create`, …) with the words that may follow it: subcommands, then flags. */
export function commandTree(program: Command): CommandNode[] {
  const nodes: CommandNode[] = [];
  const visit = (command: Command, path: string[]) => {
    const visible = command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const flags = command.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f));
    nodes.push({ path: path.join(' '), words: [...visible.flatMap((c) => [c.name(), ...c.aliases()]), ...flags, '--help'] });
    for (const child of visible) visit(child, [...path, child.name()]);
  };
  visit(program, []);
  return nodes;
}

/**
 * A bash completion script from the command tree: the longest run of subcommand words typed so far
 * picks the node, whose subcommands and flags are offered. zsh loads the same function through
 * bashcompinit, so both shells complete exactly what the CLI accepts.
 */
export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const cases = commandTree(program)
    .map((n) => `    ${JSON.stringify(n.path)}) words=${JSON.stringify(n.words.join(' '))} ;;`)
    .join('\n');
  const bash = `_muelle_complete() {
  local cur path="" candidate words i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    [[ "\${COMP_WORDS[i]}" == -* ]] && continue
    candidate="\${path:+\$path }\${COMP_WORDS[i]}"
    _muelle_words "\$candidate" && path="\$candidate"
  done
  _muelle_words "\$path"
  COMPREPLY=(\$(compgen -W "\$words" -- "\$cur"))
}
_muelle_words() {
  words=""
  case "\$1" in
${cases}
    *) return 1 ;;
  esac
}
complete -F _muelle_complete muelle
`;
  if (shell === 'bash') return `# muelle bash completion: source <(muelle completion bash)\n${bash}`;
  return `#compdef muelle\n# muelle zsh completion: source <(muelle completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

export function registerCompletionCommand(program: Command, io: Io): void {
  program
    .command('completion')
    .description('Print a shell completion script: source <(muelle completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new CliError(`completion for "${shell}" is not available: bash or zsh`);
      io.out.write(completionScript(program, shell));
    });
}
