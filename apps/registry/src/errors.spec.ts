import { StorageFullError, StorageUnavailableError } from '@muelle/storage';
import { toRegistryError } from './errors';

describe('toRegistryError', () => {
  it('answers a full storage with a final 507 the clients do not retry, saying what to do', () => {
    const answer = toRegistryError(new StorageFullError('no space left on the storage (/data/registry): ENOSPC'));
    expect(answer.status).toBe(507);
    expect(answer.headers).toEqual({});
    expect(answer.body().errors[0]).toEqual({ code: 'DENIED', message: expect.stringMatching(/^no space left on the storage of the registry: .*muelle system prune/) });
    // The storage's path stays in the log.
    expect(JSON.stringify(answer.body())).not.toContain('/data');
  });

  it('keeps a storage that cannot be reached a retryable 503', () => {
    const answer = toRegistryError(new StorageUnavailableError('S3 endpoint did not answer'));
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({ 'Retry-After': '1' });
  });
});
