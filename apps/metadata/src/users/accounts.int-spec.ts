import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import {
  accountsChanged,
  authenticateToken,
  authenticateUser,
  ConflictError,
  createTeam,
  createToken,
  createUser,
  getToken,
  listTokens,
  listUsers,
  PayloadOf,
  revokeToken,
  setPassword,
  setUserDisabled,
  TooManyRequestsError,
  UnauthenticatedError,
} from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { randomBytes, scryptSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';

// Every password check is a real scrypt. New hashes are made at N=2^12 here (about 1 ms, not 1–2 s on
// a loaded CI machine): these cases are about accounts, tokens, throttling and announcements, and ran
// ~80 s at production cost. The re-hash case makes them at today's cost (2^17) and checks it; the
// cost itself is password.spec's.
let mockProductionCost = false;
jest.mock('./password', () => {
  const actual = jest.requireActual('./password');
  return { ...actual, hashPassword: (password: string) => actual.hashPassword(password, mockProductionCost ? actual.HASH_PARAMETERS : { N: 2 ** 12, r: 8, p: 1 }) };
});
jest.setTimeout(60_000);

const config = (extra: Record<string, unknown>) =>
  z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-acc-')), MUELLE_ADMIN_PASSWORD: 'admin-password', ...extra });

describe.each([
  ['PostgreSQL server', true],
  ['embedded PGlite', false],
])('accounts and logins on %s', (_name, useServer) => {
  let running: RunningService;
  let bus: BusClient;
  let drop: (() => Promise<void>) | undefined;
  const events: Array<PayloadOf<typeof accountsChanged>> = [];
  let alphaId: string;
  let devId: string;

  beforeAll(async () => {
    mockProductionCost = false;
    const broker = new InProcessBroker();
    broker.handleEvents(accountsChanged.subject, (event) => void events.push(event as PayloadOf<typeof accountsChanged>));
    let extra = {};
    if (useServer) {
      const db = await createTestDatabase();
      drop = db.drop;
      extra = { DATABASE_URL: db.url };
    }
    running = await startMetadata(config(extra), { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    alphaId = (await bus.request(createTeam, { name: 'alpha' })).id;
    devId = (await bus.request(createUser, { username: 'alpha-dev', password: 'dev-password', teamId: alphaId })).user.id;
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  const login = (password: string, clientAddress = '10.0.0.1', username = 'alpha-dev') => bus.request(authenticateUser, { username, password, clientAddress });
  const eventFor = async (match: Partial<PayloadOf<typeof accountsChanged>>) => {
    for (let i = 0; i < 50 && !events.some((e) => Object.entries(match).every(([k, v]) => (e as Record<string, unknown>)[k] === v)); i++) await new Promise((r) => setTimeout(r, 20));
    return events.find((e) => Object.entries(match).every(([k, v]) => (e as Record<string, unknown>)[k] === v));
  };

  it('logs a member in with its team, and lists users with their team', async () => {
    await expect(login('dev-password')).resolves.toEqual({ user: { id: devId, username: 'alpha-dev', role: 'member' }, teamId: alphaId, teamName: 'alpha', kind: 'user' });
    // The right password is now remembered (VerifiedPasswords): near misses are still refused.
    await expect(login('dev-password', '10.0.0.9')).resolves.toMatchObject({ user: { id: devId } });
    for (const wrong of ['dev-passwor', 'dev-password ', 'DEV-PASSWORD']) await expect(login(wrong, '10.0.0.9')).rejects.toThrow(UnauthenticatedError);
    const { items } = await bus.request(listUsers, { teamId: alphaId });
    expect(items).toEqual([expect.objectContaining({ username: 'alpha-dev', teamName: 'alpha', disabled: false })]);
    expect((await bus.request(listUsers, {})).items.map((u) => u.username)).toEqual(['admin', 'alpha-dev']);
  });

  it('disables a user: its password and its tokens stop working, and every cache is told; re-enabling restores both', async () => {
    const { token } = await bus.request(createToken, { userId: devId, name: 'laptop' });
    await bus.request(setUserDisabled, { id: devId, disabled: true });
    expect(await eventFor({ reason: 'user-disabled', userId: devId })).toBeDefined();
    await expect(login('dev-password')).rejects.toThrow(/disabled/);
    await expect(bus.request(authenticateToken, { token })).rejects.toThrow(UnauthenticatedError);
    await bus.request(setUserDisabled, { id: devId, disabled: false });
    await expect(login('dev-password')).resolves.toMatchObject({ user: { id: devId } });
    await expect(bus.request(authenticateToken, { token })).resolves.toMatchObject({ user: { id: devId }, teamName: 'alpha' });
  });

  it('changes a password only with the current one; an admin reset needs none; both are announced', async () => {
    await expect(bus.request(setPassword, { id: devId, newPassword: 'second-password', currentPassword: 'wrong-password' })).rejects.toThrow(UnauthenticatedError);
    await bus.request(setPassword, { id: devId, newPassword: 'second-password', currentPassword: 'dev-password' });
    expect(await eventFor({ reason: 'password-changed', userId: devId })).toBeDefined();
    await expect(login('dev-password')).rejects.toThrow(UnauthenticatedError);
    await expect(login('second-password')).resolves.toMatchObject({ user: { id: devId } });
    await bus.request(setPassword, { id: devId, newPassword: 'dev-password' });
    await expect(login('dev-password')).resolves.toMatchObject({ user: { id: devId } });
  });

  it('enforces token expiry, and revocation (announced, idempotent, hidden from the live list)', async () => {
    const short = await bus.request(createToken, { userId: devId, name: 'short', ttlSeconds: 1 });
    expect(Date.parse(short.expiresAt!) - Date.now()).toBeLessThanOrEqual(1000);
    await expect(bus.request(authenticateToken, { token: short.token })).resolves.toMatchObject({ tokenId: short.id });
    await new Promise((r) => setTimeout(r, 1100));
    await expect(bus.request(authenticateToken, { token: short.token })).rejects.toThrow(UnauthenticatedError);

    const kept = await bus.request(createToken, { userId: devId, name: 'kept' });
    await expect(bus.request(revokeToken, { id: kept.id })).resolves.toMatchObject({ revokedAt: expect.any(String) });
    expect(await eventFor({ reason: 'token-revoked', tokenId: kept.id })).toBeDefined();
    await expect(bus.request(authenticateToken, { token: kept.token })).rejects.toThrow(UnauthenticatedError);
    await expect(bus.request(revokeToken, { id: kept.id })).resolves.toMatchObject({ id: kept.id });
    const live = (await bus.request(listTokens, { userId: devId })).items.map((t) => t.name);
    expect(live).not.toContain('kept');
    expect((await bus.request(listTokens, { userId: devId, includeRevoked: true })).items.map((t) => t.name)).toContain('kept');
  });

  it('makes robot tokens owned by a team, with scopes, named <team>+<name>, unique per team while live', async () => {
    const scopes = [{ resource: 'repository' as const, pattern: 'alpha/*', actions: ['pull' as const, 'push' as const] }];
    const robot = await bus.request(createToken, { teamId: alphaId, name: 'ci', scopes, createdBy: devId });
    await expect(bus.request(authenticateToken, { token: robot.token })).resolves.toEqual({
      user: { id: robot.id, username: 'alpha+ci', role: 'member' },
      teamId: alphaId,
      teamName: 'alpha',
      kind: 'robot',
      scopes,
      tokenId: robot.id,
    });
    await expect(bus.request(createToken, { teamId: alphaId, name: 'ci', scopes })).rejects.toThrow(ConflictError);
    await expect(bus.request(getToken, { id: robot.id })).resolves.toMatchObject({ kind: 'robot', loginName: 'alpha+ci', teamName: 'alpha', userId: null });
    // A robot outlives the person who made it: disabling them does not stop it.
    await bus.request(setUserDisabled, { id: devId, disabled: true });
    await expect(bus.request(authenticateToken, { token: robot.token })).resolves.toMatchObject({ kind: 'robot' });
    await bus.request(setUserDisabled, { id: devId, disabled: false });
    await expect(bus.request(createToken, { teamId: alphaId, name: 'x' })).rejects.toThrow(/scopes/);
  });

  /** Stores `password` hashed with scrypt cost N (below today's: the next successful login re-hashes it) in place of the user's hash. */
  async function storeOlderHash(userId: string, password: string, N: number): Promise<void> {
    const salt = randomBytes(16);
    const hash = ['scrypt', N, 8, 1, salt.toString('base64url'), scryptSync(password, salt, 32, { N, r: 8, p: 1 }).toString('base64url')].join('$');
    await running.app.get(DataSource).query(`UPDATE users SET password_hash = $1 WHERE id = $2`, [hash, userId]);
  }

  it('throttles one account from one address after 10 failures, while the right password from another address works', async () => {
    const { user } = await bus.request(createUser, { username: 'target', password: 'target-password', teamId: alphaId });
    // The ten failures check a cheap hash: this test is about counting, not cost.
    await storeOlderHash(user.id, 'target-password', 2 ** 10);
    const attempt = (password: string, clientAddress: string) => login(password, clientAddress, 'target');
    for (let i = 0; i < 10; i++) await expect(attempt('guess', '10.0.0.66')).rejects.toThrow(UnauthenticatedError);
    const refused = attempt('target-password', '10.0.0.66');
    await expect(refused).rejects.toThrow(TooManyRequestsError);
    await expect(refused).rejects.toMatchObject({ details: { retryAfterSeconds: expect.any(Number) } });
    const wait = ((await refused.catch((e) => e)) as TooManyRequestsError).retryAfterSeconds;
    expect(wait).toBeGreaterThan(50);
    expect(wait).toBeLessThanOrEqual(60);
    // The same account from an address that has not been failing (IPv4-mapped form of another one).
    await expect(attempt('target-password', '::ffff:10.0.0.67')).resolves.toMatchObject({ user: { id: user.id } });
    // The account is now on guard (over 10 failures a minute): a new address gets 3 tries.
    for (let i = 0; i < 3; i++) await expect(attempt('guess', '10.0.0.68')).rejects.toThrow(UnauthenticatedError);
    await expect(attempt('target-password', '10.0.0.68')).rejects.toThrow(TooManyRequestsError);
  }, 60_000);

  it('re-hashes a password stored with older scrypt parameters at the next login', async () => {
    mockProductionCost = true;
    const db: DataSource = running.app.get(DataSource);
    const { user } = await bus.request(createUser, { username: 'legacy', password: 'placeholder', teamId: alphaId });
    await storeOlderHash(user.id, 'old-password', 16384);
    await expect(login('old-password', '10.0.0.9', 'legacy')).resolves.toMatchObject({ user: { id: user.id } });
    const [{ password_hash: stored }] = await db.query(`SELECT password_hash FROM users WHERE id = $1`, [user.id]);
    expect(stored.split('$').slice(0, 4)).toEqual(['scrypt', '131072', '8', '1']);
    await expect(login('old-password', '10.0.0.9', 'legacy')).resolves.toMatchObject({ user: { id: user.id } });
  }, 30_000);
});
