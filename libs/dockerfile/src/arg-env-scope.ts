import { ExpansionError } from './errors';
import { expand, expandWords, type EscapeChar, type ExpandOptions } from './expand';
import { isProxyArg } from './platform';
import type { ArgInstruction, EnvInstruction } from './types';

export interface ArgEnvScopeOptions {
  /** `--build-arg` values. */
  buildArgs?: Readonly<Record<string, string>>;
  /**
   * What global ARGs resolved to, platform ARGs included (`resolveStages(...).globalArgValues`).
   * A stage's `ARG NAME` without a default inherits from here.
   */
  globalArgValues?: ReadonlyMap<string, string>;
  /** ENV of the base image as `KEY=value` strings; it behaves like ENV set earlier in the stage. */
  baseImageEnv?: readonly string[];
  escapeChar?: EscapeChar;
}

/**
 * Variables visible while the builder walks one stage:
 * - ENV (base image and stage) always wins over an ARG of the same name, whichever came first
 *   (the documented rule; BuildKit lets a later ARG shadow an earlier ENV in RUN, we do not);
 * - an ARG is visible only after it is declared in this stage (or an ancestor stage via FROM <stage>);
 * - a build arg overrides the default of a declared ARG only;
 * - a re-declared global ARG without a default gets the global value.
 */
export class ArgEnvScope {
  private readonly env = new Map<string, string>();
  private readonly args = new Map<string, string | undefined>();
  private readonly consumed = new Set<string>();

  constructor(private readonly options: ArgEnvScopeOptions = {}) {
    for (const entry of options.baseImageEnv ?? []) {
      const equals = entry.indexOf('=');
      if (equals < 0) this.env.set(entry, '');
      else this.env.set(entry.slice(0, equals), entry.slice(equals + 1));
    }
  }

  /** A scope for a stage built `FROM <this stage>`: ENV and declared ARGs carry over. */
  inheritForChildStage(): ArgEnvScope {
    const child = new ArgEnvScope({ ...this.options, baseImageEnv: [] });
    for (const [key, value] of this.env) child.env.set(key, value);
    for (const [key, value] of this.args) child.args.set(key, value);
    return child;
  }

  /** What `$name` expands to right now. */
  lookup = (name: string): string | undefined => {
    if (this.env.has(name)) return this.env.get(name);
    return this.args.get(name);
  };

  /** Declares one ARG; `rawDefault` is expanded here. Returns the value, undefined if unset. */
  declareArg(name: string, rawDefault?: string, line?: number): string | undefined {
    const buildArgs = this.options.buildArgs ?? {};
    let value: string | undefined;
    if (Object.prototype.hasOwnProperty.call(buildArgs, name)) {
      value = buildArgs[name];
      this.consumed.add(name);
    } else if (rawDefault !== undefined) {
      value = this.expand(rawDefault, line);
    } else {
      value = this.options.globalArgValues?.get(name);
    }
    this.args.set(name, value);
    return value;
  }

  /** Applies an ARG instruction (several declarations, left to right). */
  applyArg(instruction: ArgInstruction): void {
    for (const arg of instruction.args) this.declareArg(arg.name, arg.defaultValue, instruction.line);
  }

  /** Applies an ENV instruction: every value is expanded before any is set (`ENV a=b c=$a` sees the old `a`). */
  applyEnv(instruction: EnvInstruction): Array<[string, string]> {
    const pairs = instruction.pairs.map(({ key, value }): [string, string] => [
      this.expand(key, instruction.line),
      this.expand(value, instruction.line),
    ]);
    for (const [key, value] of pairs) this.setEnv(key, value);
    return pairs;
  }

  setEnv(key: string, value: string): void {
    this.env.set(key, value);
  }

  expand(word: string, line?: number, options: Omit<ExpandOptions, 'escapeChar'> = {}): string {
    try {
      return expand(word, this.lookup, { ...options, escapeChar: this.options.escapeChar });
    } catch (error) {
      if (error instanceof ExpansionError && line !== undefined) throw error.atLine(line);
      throw error;
    }
  }

  expandWords(word: string, line?: number): string[] {
    try {
      return expandWords(word, this.lookup, { escapeChar: this.options.escapeChar });
    } catch (error) {
      if (error instanceof ExpansionError && line !== undefined) throw error.atLine(line);
      throw error;
    }
  }

  /** ENV to store in the image config, in first-set order. */
  imageEnv(): string[] {
    return [...this.env].map(([key, value]) => `${key}=${value}`);
  }

  /** Environment for a RUN: image ENV plus declared ARGs that have a value and no ENV of the same name. */
  runEnv(): string[] {
    const out = this.imageEnv();
    for (const [key, value] of this.args) {
      if (value !== undefined && !this.env.has(key)) out.push(`${key}=${value}`);
    }
    return out;
  }

  /** Declared ARGs in declaration order (value undefined when unset). */
  declaredArgs(): Array<{ name: string; value: string | undefined }> {
    return [...this.args].map(([name, value]) => ({ name, value }));
  }

  /** Proxy build args (HTTP_PROXY...): passed to RUN even when not declared, kept out of history and cache keys. */
  proxyEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.options.buildArgs ?? {})) {
      if (isProxyArg(key) && !this.args.has(key)) out[key] = value;
    }
    return out;
  }

  /** Build args this scope has consumed through an ARG declaration. */
  consumedBuildArgs(): string[] {
    return [...this.consumed];
  }
}
