import { parseGoDuration, DurationError } from './duration';
import { DockerfileSyntaxError } from './errors';
import type { EscapeChar } from './expand';
import { FLAG_SPECS, FlagError, parseFlags, type FlagSpec, type ParsedFlags } from './flags';
import { parseHeredocWord } from './heredoc';
import { isGoSpace, splitFirstWhitespace, whitespaceFields } from './text';
import type { CommandLine, Heredoc, HealthcheckInstruction, Instruction, InstructionBase, KeyValue, ParseWarning } from './types';
import { NotStringArrayError, parseJsonStringArray, splitWordsKeepingQuotes } from './words';
import { instructionKindOf, splitInstructionLine, unknownInstructionMessage, type RawInstruction } from './instruction-line';

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

class InstructionBuilder {
  constructor(
    private readonly raw: RawInstruction,
    private readonly escape: EscapeChar,
    private readonly warnings: ParseWarning[],
  ) {}

  fail(detail: string, column = this.raw.column): never {
    throw new DockerfileSyntaxError(detail, this.raw.line, column);
  }

  base(): InstructionBase {
    const { line, endLine, column, original, keyword } = this.raw;
    return { line, endLine, column, original, keyword };
  }

  flags(spec: FlagSpec): ParsedFlags {
    try {
      return parseFlags(this.raw.flags, spec);
    } catch (error) {
      if (!(error instanceof FlagError)) throw error;
      const at = this.raw.firstPhysicalLine.indexOf(error.flagText);
      return this.fail(error.message, at >= 0 ? at + 1 : this.raw.column);
    }
  }

  noFlags(): void {
    this.flags({});
  }

  /** JSON array when the text is one, else undefined (shell form). */
  jsonArgs(): string[] | undefined {
    try {
      const parsed = parseJsonStringArray(this.raw.args);
      if (parsed === undefined && this.raw.args.trimStart().startsWith('[')) {
        this.warnings.push({
          line: this.raw.line,
          rule: 'InvalidJSON',
          message: `${this.kindName()} arguments start with "[" but are not a valid JSON array; they are used as a shell command line`,
        });
      }
      return parsed;
    } catch (error) {
      if (error instanceof NotStringArrayError) {
        return this.fail('when using JSON array syntax, arrays must be comprised of strings only');
      }
      throw error;
    }
  }

  commandLine(): CommandLine | undefined {
    const json = this.jsonArgs();
    if (json !== undefined) return { form: 'exec', args: json };
    if (this.raw.args === '') return undefined;
    return { form: 'shell', command: this.raw.args };
  }

  kindName(): string {
    return this.raw.keyword.toUpperCase();
  }

  requireArgs(): void {
    if (this.raw.args === '') this.fail(`${this.kindName()} requires at least one argument`);
  }

  exactlyOne(): string {
    if (this.raw.args === '') this.fail(`${this.kindName()} requires exactly one argument`);
    return this.raw.args;
  }

  keyValues(): { pairs: KeyValue[]; legacy: boolean } {
    const name = this.kindName();
    const words = splitWordsKeepingQuotes(this.raw.args, this.escape);
    if (words.length === 0) this.fail(`${name} requires at least one argument`);
    if (!words[0].includes('=')) {
      // Legacy `ENV key value`: everything after the first whitespace is the value.
      const [key, value] = splitFirstWhitespace(this.raw.args);
      if (value === undefined) this.fail(`${name} must have two arguments`);
      return { pairs: [{ key, value }], legacy: true };
    }
    const pairs = words.map((word) => {
      const equals = word.indexOf('=');
      if (equals < 0) this.fail(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
      const key = word.slice(0, equals);
      if (key === '') this.fail(`${name} names can not be blank`);
      return { key, value: word.slice(equals + 1) };
    });
    return { pairs, legacy: false };
  }

  sourcesAndDestination(): {
    sources: string[];
    heredocSources: Heredoc[];
    destination: string;
    json: boolean;
  } {
    const name = this.kindName();
    const json = this.jsonArgs();
    const words = json ?? whitespaceFields(this.raw.args);
    if (words.length < 2) {
      this.fail(
        words.length === 1
          ? `${name} requires at least two arguments, but only one was provided. Destination could not be determined`
          : `${name} requires at least two arguments`,
      );
    }
    const destination = words[words.length - 1];
    if (json === undefined && parseHeredocWord(destination)) this.fail(`${name} does not support a heredoc as the destination`);
    const sources: string[] = [];
    const heredocSources: Heredoc[] = [];
    for (const word of words.slice(0, -1)) {
      const header = json === undefined ? parseHeredocWord(word) : undefined;
      const heredoc = header && this.raw.heredocs.find((doc) => doc.name === header.name);
      if (heredoc) heredocSources.push(heredoc);
      else sources.push(word);
    }
    return { sources, heredocSources, destination, json: json !== undefined };
  }

  build(): Instruction {
    const kind = instructionKindOf(this.raw.keyword);
    if (kind === undefined) return this.fail(unknownInstructionMessage(this.raw.keyword));
    switch (kind) {
      case 'FROM':
        return this.buildFrom();
      case 'RUN':
        return this.buildRun();
      case 'CMD':
      case 'ENTRYPOINT': {
        this.noFlags();
        const command = this.commandLine();
        if (command === undefined) return this.fail(`${kind} requires at least one argument`);
        if (command.form === 'shell') {
          this.warnings.push({
            line: this.raw.line,
            rule: 'JSONArgsRecommended',
            message: `JSON arguments recommended for ${kind} to prevent unintended behavior related to OS signals`,
          });
        }
        return { ...this.base(), kind, command };
      }
      case 'SHELL': {
        this.noFlags();
        const shell = this.jsonArgs();
        if (shell === undefined) return this.fail('SHELL requires the arguments to be in JSON form');
        if (shell.length === 0) return this.fail('SHELL requires at least one argument');
        return { ...this.base(), kind, shell };
      }
      case 'COPY': {
        const flags = this.flags(FLAG_SPECS.COPY);
        return {
          ...this.base(),
          kind,
          ...this.sourcesAndDestination(),
          from: flags.strings.get('from'),
          chown: flags.strings.get('chown'),
          chmod: flags.strings.get('chmod'),
          link: flags.bools.get('link') ?? false,
          parents: flags.bools.get('parents') ?? false,
          excludes: flags.lists.get('exclude') ?? [],
        };
      }
      case 'ADD': {
        const flags = this.flags(FLAG_SPECS.ADD);
        return {
          ...this.base(),
          kind,
          ...this.sourcesAndDestination(),
          chown: flags.strings.get('chown'),
          chmod: flags.strings.get('chmod'),
          link: flags.bools.get('link') ?? false,
          keepGitDir: flags.bools.get('keep-git-dir') ?? false,
          checksum: flags.strings.get('checksum'),
          unpack: flags.bools.get('unpack'),
          excludes: flags.lists.get('exclude') ?? [],
        };
      }
      case 'ENV':
      case 'LABEL': {
        this.noFlags();
        return { ...this.base(), kind, ...this.keyValues() };
      }
      case 'ARG':
        return this.buildArg();
      case 'WORKDIR':
        this.noFlags();
        return { ...this.base(), kind, path: this.exactlyOne() };
      case 'USER':
        this.noFlags();
        return { ...this.base(), kind, user: this.exactlyOne() };
      case 'STOPSIGNAL':
        this.noFlags();
        return { ...this.base(), kind, signal: this.exactlyOne() };
      case 'MAINTAINER':
        this.noFlags();
        this.warnings.push({
          line: this.raw.line,
          rule: 'MaintainerDeprecated',
          message: 'MAINTAINER instruction is deprecated in favor of using label',
        });
        return { ...this.base(), kind, maintainer: this.exactlyOne() };
      case 'EXPOSE': {
        this.noFlags();
        const ports = whitespaceFields(this.raw.args);
        if (ports.length === 0) this.fail('EXPOSE requires at least one argument');
        return { ...this.base(), kind, ports };
      }
      case 'VOLUME': {
        this.noFlags();
        const json = this.jsonArgs();
        const volumes = json ?? whitespaceFields(this.raw.args);
        if (volumes.length === 0) this.fail('VOLUME requires at least one argument');
        if (volumes.some((volume) => volume.trim() === '')) this.fail('VOLUME specified can not be an empty string');
        return { ...this.base(), kind, volumes, json: json !== undefined };
      }
      case 'HEALTHCHECK':
        return this.buildHealthcheck();
      case 'ONBUILD':
        return this.buildOnbuild();
    }
  }

  private buildFrom(): Instruction {
    const flags = this.flags(FLAG_SPECS.FROM);
    const words = whitespaceFields(this.raw.args);
    let stageName: string | undefined;
    if (words.length === 3 && words[1].toLowerCase() === 'as') {
      stageName = words[2].toLowerCase();
      if (!STAGE_NAME.test(stageName)) {
        this.fail(`invalid name for build stage: ${JSON.stringify(words[2])}, name can't start with a number or contain symbols`);
      }
    } else if (words.length !== 1) {
      this.fail('FROM requires either one or three arguments');
    }
    return {
      ...this.base(),
      kind: 'FROM',
      image: words[0],
      ...(stageName === undefined ? {} : { stageName }),
      ...(flags.strings.has('platform') ? { platform: flags.strings.get('platform') } : {}),
    };
  }

  private buildRun(): Instruction {
    const flags = this.flags(FLAG_SPECS.RUN);
    const command = this.commandLine();
    if (command === undefined || (command.form === 'exec' && command.args.length === 0)) {
      return this.fail('RUN requires at least one argument');
    }
    const network = flags.strings.get('network');
    if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
      this.fail(`unsupported network mode ${JSON.stringify(network)} (use default, none or host)`);
    }
    const security = flags.strings.get('security');
    if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
      this.fail(`unsupported security mode ${JSON.stringify(security)} (use sandbox or insecure)`);
    }
    return {
      ...this.base(),
      kind: 'RUN',
      command,
      heredocs: this.raw.heredocs,
      mounts: flags.lists.get('mount') ?? [],
      ...(network === undefined ? {} : { network }),
      ...(security === undefined ? {} : { security }),
      devices: flags.lists.get('device') ?? [],
    };
  }

  private buildArg(): Instruction {
    this.noFlags();
    const words = splitWordsKeepingQuotes(this.raw.args, this.escape);
    if (words.length === 0) this.fail('ARG requires at least one argument');
    const args = words.map((word) => {
      const equals = word.indexOf('=');
      if (equals < 0) return { name: word };
      const name = word.slice(0, equals);
      if (name === '') this.fail('ARG names can not be blank');
      return { name, defaultValue: word.slice(equals + 1) };
    });
    return { ...this.base(), kind: 'ARG', args };
  }

  private buildHealthcheck(): HealthcheckInstruction {
    const args = this.raw.args;
    let typeEnd = 0;
    while (typeEnd < args.length && !isGoSpace(args[typeEnd])) typeEnd++;
    if (typeEnd === 0) this.fail('HEALTHCHECK requires at least one argument');
    let commandStart = typeEnd;
    while (commandStart < args.length && isGoSpace(args[commandStart])) commandStart++;
    const type = args.slice(0, typeEnd).toUpperCase();
    const commandText = args.slice(commandStart);

    if (type === 'NONE') {
      // BuildKit ignores flags on HEALTHCHECK NONE; so do we, for compatibility.
      if (commandText !== '') this.fail('HEALTHCHECK NONE takes no arguments');
      return { ...this.base(), kind: 'HEALTHCHECK', type: 'NONE' };
    }
    const flags = this.flags(FLAG_SPECS.HEALTHCHECK);
    if (type !== 'CMD') this.fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);

    const inner = new InstructionBuilder({ ...this.raw, args: commandText }, this.escape, []);
    const command = inner.commandLine();
    if (command === undefined || (command.form === 'exec' && command.args.length === 0)) {
      this.fail('Missing command after HEALTHCHECK CMD');
    }
    const test = command.form === 'exec' ? ['CMD', ...command.args] : ['CMD-SHELL', command.command];
    return {
      ...this.base(),
      kind: 'HEALTHCHECK',
      type: 'CMD',
      command,
      test,
      options: {
        intervalNs: this.interval(flags, 'interval'),
        timeoutNs: this.interval(flags, 'timeout'),
        startPeriodNs: this.interval(flags, 'start-period'),
        startIntervalNs: this.interval(flags, 'start-interval'),
        retries: this.retries(flags),
      },
    };
  }

  private interval(flags: ParsedFlags, name: string): number {
    const text = flags.strings.get(name);
    if (text === undefined || text === '') return 0;
    let ns: number;
    try {
      ns = parseGoDuration(text);
    } catch (error) {
      if (error instanceof DurationError) return this.fail(`--${name}: ${error.message}`);
      throw error;
    }
    if (ns === 0) return 0;
    if (ns < 1e6) this.fail(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
    return ns;
  }

  private retries(flags: ParsedFlags): number {
    const text = flags.strings.get('retries');
    if (text === undefined || text === '') return 0;
    if (!/^[+-]?\d+$/.test(text)) this.fail(`--retries: invalid integer ${JSON.stringify(text)}`);
    const value = Number(text);
    if (value > 2 ** 31 - 1 || value < -(2 ** 31)) this.fail(`--retries: value out of range ${JSON.stringify(text)}`);
    if (value < 0) this.fail(`--retries cannot be negative (${value})`);
    return value;
  }

  private buildOnbuild(): Instruction {
    this.noFlags();
    this.requireArgs();
    const inner = splitInstructionLine(this.raw.args);
    const innerKind = instructionKindOf(inner.keyword);
    if (innerKind === 'ONBUILD') this.fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    if (innerKind === 'FROM' || innerKind === 'MAINTAINER') this.fail(`${innerKind} isn't allowed as an ONBUILD trigger`);

    const innerColumn = this.raw.firstPhysicalLine.indexOf(inner.keyword, this.raw.column - 1 + this.raw.keyword.length);
    const trigger = new InstructionBuilder(
      {
        ...this.raw,
        keyword: inner.keyword,
        flags: inner.flags,
        args: inner.args,
        column: innerColumn >= 0 ? innerColumn + 1 : this.raw.column,
        original: this.raw.original.replace(/^\s*ONBUILD\s*/i, ''),
      },
      this.escape,
      this.warnings,
    ).build();
    // The stored trigger carries heredoc bodies so that it can be re-parsed on its own.
    let expression = trigger.original;
    for (const doc of this.raw.heredocs) expression += `\n${doc.content}${doc.name}`;
    return { ...this.base(), kind: 'ONBUILD', expression, trigger };
  }
}

export function buildInstruction(raw: RawInstruction, escape: EscapeChar, warnings: ParseWarning[]): Instruction {
  return new InstructionBuilder(raw, escape, warnings).build();
}
