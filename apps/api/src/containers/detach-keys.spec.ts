import { InvalidArgumentError } from '@muelle/contracts';
import { parseRequest } from '../http/validation';
import { ExecBody } from './containers.schemas';
import { DetachKeysFilter, parseDetachKeys } from './detach-keys';

describe('detach keys', () => {
  it('parses Docker key lists', () => {
    expect([...parseDetachKeys('ctrl-p,ctrl-q')]).toEqual([0x10, 0x11]);
    expect([...parseDetachKeys('ctrl-a,d')]).toEqual([0x01, 0x64]);
    expect(() => parseDetachKeys('ctrl-1')).toThrow(/detachKeys: invalid key "ctrl-1"/);
    expect(() => parseDetachKeys('alt-x')).toThrow(/detachKeys/);
  });

  it('passes input through, holds a partial sequence across chunks and detaches on the whole one', () => {
    const f = new DetachKeysFilter(parseDetachKeys('ctrl-p,ctrl-q'));
    expect(f.push(Buffer.from('ab\x10'))).toEqual({ forward: Buffer.from('ab'), detach: false });
    expect(f.push(Buffer.from('\x11rest'))).toEqual({ forward: Buffer.from(''), detach: true });
  });

  it('a broken sequence is input after all', () => {
    const f = new DetachKeysFilter(parseDetachKeys('ctrl-p,ctrl-q'));
    expect(f.push(Buffer.from('\x10x\x10\x10'))).toEqual({ forward: Buffer.from('\x10x\x10'), detach: false });
    expect(f.push(Buffer.from('\x11'))).toEqual({ forward: Buffer.from(''), detach: true });
  });
});

describe('an exec’s DetachKeys at create', () => {
  const body = (detachKeys?: string) => parseRequest(ExecBody, { cmd: ['sh'], tty: true, stdin: true, detachKeys });

  it('keeps valid keys and defaults to none given (Docker’s then apply at start)', () => {
    expect(body('ctrl-x,x').detachKeys).toBe('ctrl-x,x');
    expect(body().detachKeys).toBe('');
  });

  it('refuses bad keys with a 400 naming the key, as dockerd refuses them at create', () => {
    expect(() => body('ctrl-1,foo')).toThrow(InvalidArgumentError);
    expect(() => body('ctrl-1,foo')).toThrow('body.detachKeys: invalid key "ctrl-1"');
    expect(() => body('ctrl-x,foo')).toThrow('invalid key "foo"');
  });
});
