import { z } from 'zod';
import { ConfigError, natsUrl, parseConfig, port, bool } from './config';

const schema = z.object({ NATS_URL: natsUrl, MUELLE_API_PORT: port(2375), MUELLE_FLAG: bool(false) });

describe('parseConfig', () => {
  it('applies defaults and coerces types', () => {
    expect(parseConfig(schema, { NATS_URL: 'nats://127.0.0.1:4222' })).toEqual({ NATS_URL: 'nats://127.0.0.1:4222', MUELLE_API_PORT: 2375, MUELLE_FLAG: false });
    expect(parseConfig(schema, { NATS_URL: 'nats://a:1', MUELLE_API_PORT: '8080', MUELLE_FLAG: 'yes' })).toMatchObject({ MUELLE_API_PORT: 8080, MUELLE_FLAG: true });
  });

  it('names a missing required variable', () => {
    expect(() => parseConfig(schema, {})).toThrow(new ConfigError('NATS_URL', 'is required'));
  });

  it('names the variable with a bad value and says what is wrong', () => {
    const error = (() => {
      try {
        parseConfig(schema, { NATS_URL: 'nats://x:1', MUELLE_API_PORT: '99999' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.variable).toBe('MUELLE_API_PORT');
    expect(error?.message).toMatch(/^MUELLE_API_PORT: /);
    expect(() => parseConfig(schema, { NATS_URL: 'http://x' })).toThrow(/^NATS_URL: must be a URL/);
  });

  it('treats an empty value as unset, so the default applies', () => {
    expect(parseConfig(schema, { NATS_URL: 'nats://a:1', MUELLE_API_PORT: '' }).MUELLE_API_PORT).toBe(2375);
  });

  it('ignores variables the schema does not know', () => {
    expect(parseConfig(schema, { NATS_URL: 'nats://a:1', UNRELATED: 'x' })).not.toHaveProperty('UNRELATED');
  });
});
