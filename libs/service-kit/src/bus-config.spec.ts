import { z } from 'zod';
import { streamLiveness, setStreamLiveness } from '@muelle/bus';
import { applyStreamLiveness, busConfigShape, isBusAuthorizationError, natsBusOf } from './bus-config';
import { ConfigError, parseConfig } from './config';

const SEED = 'SUALUMXDWNAYRKNKO6LLA7DFNHPO6WJSLOBIDHR43V6FFQRPOHCVTIXLAQ';
const CREDS = `-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.sig\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${SEED}\n------END USER NKEY SEED------\n`;
const files: Record<string, string> = { '/run/secrets/password': 'from-a-file\n', '/run/secrets/token': 'tok-from-file', '/run/secrets/seed': `${SEED}\n`, '/run/u.creds': CREDS, '/ca.pem': 'pem', '/empty': '\n' };
const read = (path: string) => {
  if (!(path in files)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return files[path];
};
const bus = (env: Record<string, string>) => natsBusOf({ ...parseConfig(z.object(busConfigShape), env), NATS_URL: env.NATS_URL ?? 'nats://nats:4222' }, undefined, read);
const failure = (env: Record<string, string>) => {
  try {
    bus(env);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a configuration error');
};

describe('bus credentials from the environment', () => {
  it('refuses a NATS without credentials, naming every way to give them and the escape hatch', () => {
    const error = failure({});
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      'NATS_URL: no credentials for the bus: set NATS_USER and NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED or NATS_CREDS_FILE (or their *_FILE variants), or MUELLE_BUS_INSECURE=true to use a NATS without authentication',
    );
  });

  it('allows an open NATS only when MUELLE_BUS_INSECURE=true says so', () => {
    expect(bus({ MUELLE_BUS_INSECURE: 'true' })).toEqual({ kind: 'nats', url: 'nats://nats:4222' });
    expect(failure({ MUELLE_BUS_INSECURE: 'true', NATS_TOKEN: 't' }).variable).toBe('MUELLE_BUS_INSECURE');
  });

  it('reads each kind of credential, inline or from a *_FILE', () => {
    expect(bus({ NATS_USER: 'svc', NATS_PASSWORD: 'pw' }).auth).toEqual({ kind: 'user', user: 'svc', password: 'pw' });
    expect(bus({ NATS_USER: 'svc', NATS_PASSWORD_FILE: '/run/secrets/password' }).auth).toEqual({ kind: 'user', user: 'svc', password: 'from-a-file' });
    expect(bus({ NATS_TOKEN_FILE: '/run/secrets/token' }).auth).toEqual({ kind: 'token', token: 'tok-from-file' });
    expect(bus({ NATS_NKEY_SEED_FILE: '/run/secrets/seed' }).auth).toEqual({ kind: 'nkey', seed: SEED });
    expect(bus({ NATS_CREDS_FILE: '/run/u.creds' }).auth).toEqual({ kind: 'creds', creds: CREDS });
  });

  it('names the variable at fault for incomplete, doubled or unreadable secrets', () => {
    expect(failure({ NATS_USER: 'svc' }).message).toBe('NATS_PASSWORD: is required with NATS_USER');
    expect(failure({ NATS_PASSWORD: 'pw' }).variable).toBe('NATS_USER');
    expect(failure({ NATS_TOKEN: 'a', NATS_TOKEN_FILE: '/run/secrets/token' }).message).toBe('NATS_TOKEN: set either NATS_TOKEN or NATS_TOKEN_FILE, not both');
    expect(failure({ NATS_TOKEN_FILE: '/nope' }).message).toBe('NATS_TOKEN_FILE: cannot read /nope: ENOENT');
    expect(failure({ NATS_TOKEN_FILE: '/empty' }).message).toBe('NATS_TOKEN_FILE: /empty is empty');
    expect(failure({ NATS_NKEY_SEED: 'UABC' }).variable).toBe('NATS_NKEY_SEED');
    expect(failure({ NATS_CREDS_FILE: '/run/secrets/token' }).variable).toBe('NATS_CREDS_FILE');
    expect(failure({ NATS_TOKEN: 't', NATS_USER: 'u', NATS_PASSWORD: 'p' }).message).toBe('NATS_URL: give one way to authenticate to NATS, not user and token');
  });

  it('turns TLS on for a CA, a client certificate or a tls:// URL, and checks the files at start', () => {
    expect(bus({ NATS_TOKEN: 't', NATS_TLS_CA: '/ca.pem' }).tls).toEqual({ caFile: '/ca.pem' });
    expect(bus({ NATS_TOKEN: 't', NATS_URL: 'tls://nats:4222' }).tls).toEqual({});
    expect(bus({ NATS_TOKEN: 't' }).tls).toBeUndefined();
    expect(failure({ NATS_TOKEN: 't', NATS_TLS_CERT: '/ca.pem' }).variable).toBe('NATS_TLS_KEY');
    expect(failure({ NATS_TOKEN: 't', NATS_TLS_CA: '/missing.pem' }).message).toBe('NATS_TLS_CA: cannot read /missing.pem: ENOENT');
  });

  it('recognises NATS refusing the credentials', () => {
    expect(isBusAuthorizationError(Object.assign(new Error("'Authorization Violation'"), { code: 'AUTHORIZATION_VIOLATION' }))).toBe(true);
    expect(isBusAuthorizationError(new Error('connection refused'))).toBe(false);
  });
});

describe('bus stream liveness from the environment', () => {
  const settings = (env: Record<string, string>) => parseConfig(z.object(busConfigShape), env);
  const before = streamLiveness();
  afterEach(() => setStreamLiveness(before));

  it('defaults to a keep-alive a second and a 5 s silence limit, and applies what is set', () => {
    applyStreamLiveness(settings({}));
    expect(streamLiveness()).toEqual({ keepAliveMs: 1000, silenceMs: 5000 });
    applyStreamLiveness(settings({ MUELLE_STREAM_KEEPALIVE_MS: '250', MUELLE_STREAM_SILENCE_MS: '1500' }));
    expect(streamLiveness()).toEqual({ keepAliveMs: 250, silenceMs: 1500 });
  });

  it('refuses a silence limit shorter than two keep-alives, naming both variables', () => {
    expect(() => applyStreamLiveness(settings({ MUELLE_STREAM_KEEPALIVE_MS: '1000', MUELLE_STREAM_SILENCE_MS: '1500' }))).toThrow(
      new ConfigError('MUELLE_STREAM_SILENCE_MS', 'the silence limit must be at least twice the keep-alive interval (MUELLE_STREAM_KEEPALIVE_MS=1000)'),
    );
    expect(() => settings({ MUELLE_STREAM_KEEPALIVE_MS: '0' })).toThrow(/MUELLE_STREAM_KEEPALIVE_MS/);
  });
});
