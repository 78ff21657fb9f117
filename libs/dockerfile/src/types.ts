import type { EscapeChar } from './expand';

/** What every instruction carries besides its own fields. */
export interface InstructionBase {
  /** 1-based line where the instruction starts. */
  line: number;
  /** 1-based line of its last physical line (continuations and heredoc bodies included). */
  endLine: number;
  /** 1-based column of the keyword on `line`. */
  column: number;
  /** The instruction as one logical line: continuations joined, comment lines dropped, heredoc bodies excluded. */
  original: string;
  /** The keyword as written (`run`, `Copy`...); `kind` holds the upper-case form. */
  keyword: string;
}

/** Exec form (JSON array) or shell form (a command line for the SHELL). */
export type CommandLine = { form: 'exec'; args: string[] } | { form: 'shell'; command: string };

/** One `<<EOF` document. */
export interface Heredoc {
  /** The delimiter with quotes removed; for COPY/ADD it is also the file name. */
  name: string;
  /** File contents: every body line followed by `\n`, leading tabs stripped for `<<-`. */
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): the builder must not expand variables. */
  expand: boolean;
  /** `<<-EOF`: leading tabs were stripped. */
  chomp: boolean;
  /** The `3` of `3<<EOF`; 0 when absent. */
  fileDescriptor: number;
}

export interface FromInstruction extends InstructionBase {
  kind: 'FROM';
  /** Base image or stage name, unexpanded (`${BASE}:latest`). */
  image: string;
  /** `AS name`, lower-cased. */
  stageName?: string;
  /** `--platform` value, unexpanded. */
  platform?: string;
}

export interface RunInstruction extends InstructionBase {
  kind: 'RUN';
  command: CommandLine;
  heredocs: Heredoc[];
  /** Raw `--mount` specs, unexpanded (`type=cache,target=/root/.cache`); see `parseRunMount`. */
  mounts: string[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
  devices: string[];
}

export interface CmdInstruction extends InstructionBase {
  kind: 'CMD';
  command: CommandLine;
}

export interface EntrypointInstruction extends InstructionBase {
  kind: 'ENTRYPOINT';
  command: CommandLine;
}

export interface ShellInstruction extends InstructionBase {
  kind: 'SHELL';
  /** Always exec (JSON) form. */
  shell: string[];
}

export interface CopyInstruction extends InstructionBase {
  kind: 'COPY';
  /** Source paths, unexpanded. Heredoc sources are in `heredocSources`. */
  sources: string[];
  heredocSources: Heredoc[];
  destination: string;
  /** `--from` stage name, stage index or image (never expanded, as in BuildKit). */
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  excludes: string[];
  /** Arguments were given as a JSON array. */
  json: boolean;
}

export interface AddInstruction extends InstructionBase {
  kind: 'ADD';
  sources: string[];
  heredocSources: Heredoc[];
  destination: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  keepGitDir: boolean;
  checksum?: string;
  /** `--unpack` when given explicitly. */
  unpack?: boolean;
  excludes: string[];
  json: boolean;
}

export interface KeyValue {
  /** Raw key (quotes and escapes still in place, as BuildKit keeps them until expansion). */
  key: string;
  /** Raw value. */
  value: string;
}

export interface EnvInstruction extends InstructionBase {
  kind: 'ENV';
  pairs: KeyValue[];
  /** Written as the legacy `ENV key value` form. */
  legacy: boolean;
}

export interface LabelInstruction extends InstructionBase {
  kind: 'LABEL';
  pairs: KeyValue[];
  legacy: boolean;
}

export interface ArgDeclaration {
  name: string;
  /** Raw default value; undefined when written as `ARG name`. */
  defaultValue?: string;
}

export interface ArgInstruction extends InstructionBase {
  kind: 'ARG';
  args: ArgDeclaration[];
}

export interface WorkdirInstruction extends InstructionBase {
  kind: 'WORKDIR';
  path: string;
}

export interface ExposeInstruction extends InstructionBase {
  kind: 'EXPOSE';
  /** Raw port words (`80`, `80/tcp`, `$PORT`); see `parsePortSpec` after expansion. */
  ports: string[];
}

export interface UserInstruction extends InstructionBase {
  kind: 'USER';
  user: string;
}

export interface VolumeInstruction extends InstructionBase {
  kind: 'VOLUME';
  volumes: string[];
  json: boolean;
}

export interface StopSignalInstruction extends InstructionBase {
  kind: 'STOPSIGNAL';
  signal: string;
}

export interface HealthcheckOptions {
  /** Durations in nanoseconds, 0 when not given (the runtime default applies). */
  intervalNs: number;
  timeoutNs: number;
  startPeriodNs: number;
  startIntervalNs: number;
  /** 0 when not given. */
  retries: number;
}

export type HealthcheckInstruction = InstructionBase & { kind: 'HEALTHCHECK' } & (
    | { type: 'NONE' }
    | {
        type: 'CMD';
        command: CommandLine;
        /** The image-config `Test` value: `["CMD", ...args]` or `["CMD-SHELL", "cmd"]`. */
        test: string[];
        options: HealthcheckOptions;
      }
  );

export interface OnbuildInstruction extends InstructionBase {
  kind: 'ONBUILD';
  /** The trigger as stored in the image config (`ONBUILD ` removed). */
  expression: string;
  /** The parsed trigger. */
  trigger: Instruction;
}

export interface MaintainerInstruction extends InstructionBase {
  kind: 'MAINTAINER';
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | WorkdirInstruction
  | ExposeInstruction
  | UserInstruction
  | VolumeInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export interface ParserDirectives {
  /** `# escape=` value, default `\`. */
  escape: EscapeChar;
  /** `# syntax=` value when present (we do not switch frontends; it is informational). */
  syntax?: string;
  /** `# check=` value when present (lint configuration; accepted and ignored). */
  check?: string;
}

export interface ParseWarning {
  line: number;
  /** BuildKit lint rule name where one exists. */
  rule: 'NoEmptyContinuation' | 'MaintainerDeprecated' | 'JSONArgsRecommended' | 'InvalidJSON';
  message: string;
}

export interface Stage {
  /** Position among the stages, 0-based (what `COPY --from=<index>` refers to). */
  index: number;
  /** `AS name`, lower-cased. */
  name?: string;
  from: FromInstruction;
  /** Instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  directives: ParserDirectives;
  /** ARG instructions before the first FROM, in order. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
  warnings: ParseWarning[];
}
