import { parseStatusLine, StatusLineReader } from './status-protocol';

describe('status protocol', () => {
  it('parses every line the helper writes', () => {
    expect(parseStatusLine('pid 123')).toEqual({ type: 'pid', pid: 123 });
    expect(parseStatusLine('started')).toEqual({ type: 'started' });
    expect(parseStatusLine('error exec 2 exec: nope: executable file not found in $PATH: No such file or directory')).toEqual({
      type: 'error',
      stage: 'exec',
      errno: 2,
      message: 'exec: nope: executable file not found in $PATH: No such file or directory',
    });
    expect(parseStatusLine('exit 137 9')).toEqual({ type: 'exit', exitCode: 137, signal: 9 });
    expect(parseStatusLine('garbage')).toEqual({ type: 'unknown', line: 'garbage' });
  });

  it('reassembles lines split across chunks', () => {
    const reader = new StatusLineReader();
    expect(reader.push('pi')).toEqual([]);
    expect(reader.push('d 7\nstar')).toEqual([{ type: 'pid', pid: 7 }]);
    expect(reader.push('ted\nexit 0 0')).toEqual([{ type: 'started' }]);
    expect(reader.end()).toEqual([{ type: 'exit', exitCode: 0, signal: 0 }]);
  });
});
