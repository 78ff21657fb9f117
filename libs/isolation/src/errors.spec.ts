import {
  CommandNotFoundError, errnoName, errorFromHelper, IsolationError, MountError, NamespaceError, PermissionDeniedError,
} from './errors';

describe('errorFromHelper', () => {
  it('classifies exec failures like docker: 127 not found, 126 not executable', () => {
    const notFound = errorFromHelper('exec', 2, 'nope');
    expect(notFound).toBeInstanceOf(CommandNotFoundError);
    expect(notFound).toMatchObject({ stage: 'exec', errno: 2, errnoName: 'ENOENT', exitCode: 127 });
    const notExecutable = errorFromHelper('exec', 13, '/etc/passwd');
    expect(notExecutable).toBeInstanceOf(PermissionDeniedError);
    expect(notExecutable.exitCode).toBe(126);
    expect(errorFromHelper('exec', 8, 'bad format').exitCode).toBe(126);
  });

  it('maps mount, pivot, namespace and permission failures to their classes (exit 125)', () => {
    expect(errorFromHelper('mount', 18, 'bind target escapes')).toBeInstanceOf(MountError);
    expect(errorFromHelper('pivot', 22, 'pivot_root')).toBeInstanceOf(MountError);
    expect(errorFromHelper('namespace', 3, 'setns')).toBeInstanceOf(NamespaceError);
    expect(errorFromHelper('cgroup', 13, 'join')).toBeInstanceOf(PermissionDeniedError);
    const other = errorFromHelper('hostname', 22, 'sethostname');
    expect(other.constructor).toBe(IsolationError);
    expect(other.exitCode).toBe(125);
    expect(other.message).toBe('hostname: sethostname');
  });

  it('names errnos', () => {
    expect(errnoName(18)).toBe('EXDEV');
    expect(errnoName(0)).toBe('');
    expect(errnoName(9999)).toBe('E9999');
  });
});
