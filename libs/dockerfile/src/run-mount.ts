import { DockerfileSemanticError, ExpansionError } from './errors';
import { expand, type EscapeChar, type ExpansionEnv } from './expand';

/** A parsed `RUN --mount=...` spec. */
export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  target?: string;
  source?: string;
  /** Stage name, image or context the mount reads from. */
  from?: string;
  readOnly: boolean;
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required: boolean;
  /** secret mounts: expose as this environment variable. */
  env?: string;
  /** tmpfs size in bytes. */
  sizeBytes?: number;
}

export interface ParseRunMountOptions {
  /** When given, field values are expanded (`target=$HOME/.cache`). */
  env?: ExpansionEnv;
  escapeChar?: EscapeChar;
  line?: number;
}

/** Splits like Go's encoding/csv for one record: commas separate, double quotes group. */
function splitCsv(spec: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i];
    if (quoted) {
      if (ch === '"' && spec[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  if (quoted) throw new Error('unterminated quote');
  fields.push(field);
  return fields;
}

const BOOLEAN_KEYS = new Set(['readonly', 'ro', 'readwrite', 'rw', 'required']);

export function parseRunMount(spec: string, options: ParseRunMountOptions = {}): RunMount {
  const fail = (detail: string): never => {
    throw new DockerfileSemanticError(`invalid --mount=${spec}: ${detail}`, options.line);
  };
  let fields: string[];
  try {
    fields = splitCsv(spec);
  } catch {
    // splitCsv's one failure.
    return fail('unterminated quote');
  }
  const entries: Array<[string, string | undefined]> = fields.map((field) => {
    const equals = field.indexOf('=');
    const key = (equals < 0 ? field : field.slice(0, equals)).trim().toLowerCase();
    let value = equals < 0 ? undefined : field.slice(equals + 1);
    if (value !== undefined && options.env) {
      try {
        value = expand(value, options.env, { escapeChar: options.escapeChar });
      } catch (error) {
        if (error instanceof ExpansionError && options.line !== undefined) throw error.atLine(options.line);
        throw error;
      }
    }
    if (value === undefined && !BOOLEAN_KEYS.has(key)) fail(`invalid field '${field}' must be a key=value pair`);
    return [key, value];
  });

  const typeEntry = entries.find(([key]) => key === 'type');
  const type = (typeEntry?.[1] ?? 'bind').toLowerCase();
  if (!['bind', 'cache', 'tmpfs', 'secret', 'ssh'].includes(type)) fail(`unsupported mount type "${type}"`);
  const mount: RunMount = { type: type as RunMount['type'], readOnly: type === 'bind' || type === 'secret' || type === 'ssh', required: false };

  const bool = (value: string | undefined, key: string): boolean => {
    if (value === undefined || value.toLowerCase() === 'true') return true;
    if (value.toLowerCase() === 'false') return false;
    return fail(`invalid value for ${key}: ${value}`);
  };
  const integer = (value: string, key: string, radix: 8 | 10): number => {
    const valid = radix === 8 ? /^0?[0-7]+$/ : /^\d+$/;
    if (!valid.test(value)) fail(`invalid value for ${key}: ${value}`);
    return parseInt(value, radix);
  };

  for (const [key, value] of entries) {
    const text = value ?? '';
    switch (key) {
      case 'type':
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.target = text;
        break;
      case 'source':
      case 'src':
        mount.source = text;
        break;
      case 'from':
        mount.from = text;
        break;
      case 'readonly':
      case 'ro':
        mount.readOnly = bool(value, key);
        break;
      case 'readwrite':
      case 'rw':
        mount.readOnly = !bool(value, key);
        break;
      case 'required':
        mount.required = bool(value, key);
        break;
      case 'id':
        mount.id = text;
        break;
      case 'sharing':
        if (text !== 'shared' && text !== 'private' && text !== 'locked') fail(`unsupported sharing value "${text}"`);
        mount.sharing = text as RunMount['sharing'];
        break;
      case 'mode':
        mount.mode = integer(text, key, 8);
        break;
      case 'uid':
        mount.uid = integer(text, key, 10);
        break;
      case 'gid':
        mount.gid = integer(text, key, 10);
        break;
      case 'env':
        mount.env = text;
        break;
      case 'size':
        mount.sizeBytes = integer(text, key, 10);
        break;
      default:
        fail(`unexpected key '${key}'`);
    }
  }
  if ((mount.type === 'bind' || mount.type === 'cache' || mount.type === 'tmpfs') && !mount.target) fail('mount target is required');
  if (mount.type === 'secret' && !mount.target && !mount.env) mount.target = `/run/secrets/${mount.id ?? mount.source ?? ''}`;
  if (mount.type === 'secret' && !mount.id && mount.target) mount.id = mount.target.split('/').pop();
  if (mount.type === 'cache' && !mount.id) mount.id = mount.target;
  return mount;
}
