import { UnavailableError } from '@muelle/contracts';
import { writeFile } from 'node:fs/promises';
import { nameFullDisk, onHostDisk } from './disk-full';

describe('a full disk on the host', () => {
  // /dev/full answers every write with ENOSPC: the real error a full data folder gives.
  const fullWrite = () => writeFile('/dev/full', 'layer bytes');

  it('is answered naming the host and the reason, not as an internal error', async () => {
    const failure = await onHostDisk('host-a', fullWrite).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).message).toBe('host host-a has no space left on its disk (ENOSPC): free space there or run elsewhere');
    expect((failure as UnavailableError).details).toEqual({ host: 'host-a', reason: 'disk-full' });
  });

  it('is found behind a wrapping error', async () => {
    const cause = await fullWrite().catch((error: unknown) => error);
    expect(nameFullDisk('host-b', new Error('unpacking layer failed', { cause }))).toBeInstanceOf(UnavailableError);
  });

  it('leaves other errors alone', () => {
    const other = Object.assign(new Error('permission denied'), { code: 'EACCES' });
    expect(nameFullDisk('host-a', other)).toBe(other);
  });
});
