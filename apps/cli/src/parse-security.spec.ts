import { CliError } from './errors';
import { parseBytesOrNone, parsePidsLimit, parseSecurityOpts, parseUlimit } from './parse';

describe('run flags for isolation options', () => {
  it('reads --ulimit name=soft[:hard] like docker', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ name: 'nofile', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=64')).toEqual({ name: 'nproc', soft: 64, hard: 64 });
    expect(parseUlimit('core=-1')).toEqual({ name: 'core', soft: -1, hard: -1 });
    expect(() => parseUlimit('nofile')).toThrow(CliError);
  });

  it('carries seccomp=unconfined, accepts no-new-privileges and refuses the rest naming it', () => {
    expect(parseSecurityOpts([])).toBe('default');
    expect(parseSecurityOpts(['no-new-privileges'])).toBe('default');
    expect(parseSecurityOpts(['seccomp=unconfined', 'no-new-privileges:true'])).toBe('unconfined');
    expect(() => parseSecurityOpts(['apparmor=unconfined'])).toThrow('--security-opt apparmor=unconfined is not supported by Muelle');
    expect(() => parseSecurityOpts(['seccomp=/tmp/profile.json'])).toThrow(/seccomp=\/tmp\/profile.json is not supported/);
  });

  it('reads --pids-limit and quota sizes', () => {
    expect(parsePidsLimit('100')).toBe(100);
    expect(() => parsePidsLimit('-1')).toThrow(CliError);
    expect(() => parsePidsLimit('0')).toThrow(CliError);
    expect(parseBytesOrNone('8g')).toBe(8 * 1024 ** 3);
    expect(parseBytesOrNone('none')).toBeNull();
  });
});
