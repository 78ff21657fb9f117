import { DockerfileSemanticError, ExpansionError } from './errors';
import { expand, expandWords, type EscapeChar, type ExpansionEnv } from './expand';
import type { Heredoc, Instruction } from './types';
import { parsePortSpec, validateStopSignal } from './values';

/** Instructions whose arguments the builder substitutes variables in (RUN/CMD/ENTRYPOINT are left to the shell). */
export const EXPANDING_KINDS = new Set<Instruction['kind']>([
  'ADD', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

/**
 * Returns a copy of the instruction with variables substituted, as BuildKit does right before
 * dispatching it. All words see the same environment (so `ENV a=b c=$a` uses the previous `a`).
 * EXPOSE ports and STOPSIGNAL are validated after substitution. ARG is handled by `ArgEnvScope`;
 * ONBUILD triggers are expanded when they run, not when they are recorded.
 */
export function expandInstruction<T extends Instruction>(instruction: T, env: ExpansionEnv, escapeChar: EscapeChar = '\\'): T {
  const word = (text: string): string => expand(text, env, { escapeChar });
  const optional = (text: string | undefined): string | undefined => (text === undefined ? undefined : word(text));
  // Heredoc files are expanded with quotes taken literally and the default escape (BuildKit's ExpandRaw).
  const heredoc = (doc: Heredoc): Heredoc =>
    doc.expand ? { ...doc, content: expand(doc.content, env, { skipProcessQuotes: true }) } : doc;

  try {
    const ins = instruction as Instruction;
    switch (ins.kind) {
      case 'COPY':
      case 'ADD': {
        const files = {
          ...ins,
          sources: ins.sources.map(word),
          heredocSources: ins.heredocSources.map(heredoc),
          destination: word(ins.destination),
          chown: optional(ins.chown),
          chmod: optional(ins.chmod),
          excludes: ins.excludes.map(word),
        };
        return (ins.kind === 'ADD' ? { ...files, checksum: optional(ins.checksum) } : files) as T;
      }
      case 'ENV':
      case 'LABEL':
        return { ...ins, pairs: ins.pairs.map(({ key, value }) => ({ key: word(key), value: word(value) })) } as T;
      case 'EXPOSE': {
        const ports = ins.ports.flatMap((port) => expandWords(port, env, { escapeChar }));
        for (const port of ports) parsePortSpec(port, ins.line);
        return { ...ins, ports } as T;
      }
      case 'FROM':
        return { ...ins, image: word(ins.image), platform: optional(ins.platform) } as T;
      case 'STOPSIGNAL':
        return { ...ins, signal: validateStopSignal(word(ins.signal), ins.line) } as T;
      case 'USER':
        return { ...ins, user: word(ins.user) } as T;
      case 'WORKDIR':
        return { ...ins, path: word(ins.path) } as T;
      case 'VOLUME': {
        const volumes = ins.volumes.map(word);
        if (volumes.some((volume) => volume === '')) {
          throw new DockerfileSemanticError('VOLUME specified can not be an empty string', ins.line);
        }
        return { ...ins, volumes } as T;
      }
      default:
        return instruction;
    }
  } catch (error) {
    if (error instanceof ExpansionError) throw error.atLine(instruction.line);
    throw error;
  }
}
