import { z } from 'zod';
import { defineEvent, defineRequest } from '../contract';
import { IsoDate } from '../common';

export const Role = z.enum(['admin', 'member', 'viewer']);
export const UserRecord = z.object({ id: z.string().uuid(), username: z.string(), role: Role });
export type UserRecord = z.infer<typeof UserRecord>;

export const Username = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ - (max 64)');
export const Password = z.string().min(8, 'at least 8 characters').max(1024);

/**
 * What a scoped or robot token may do, below its role (see SECURITY.md § 5). On the wire
 * (REST, CLI) a scope is written `repository:<pattern>:<actions>` or `<kind>:<actions>`, e.g.
 * `repository:alpha/*:pull,push` or `container:read`; `libs/authz` parses and prints that form.
 */
export const ScopeResource = z.enum(['repository', 'catalog', 'container', 'build', 'volume', 'network', 'token', 'team', 'user', 'host', 'audit', 'system']);
export const ScopeAction = z.enum(['read', 'pull', 'push', 'delete', 'create', 'update', 'exec']);
export const TokenScope = z.object({
  resource: ScopeResource,
  /** Repository name or prefix glob with a trailing `*` (`alpha/*`); only for `repository`. */
  pattern: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._/-]{0,254}\*?$|^\*$/, 'a repository name, optionally ending in *')
    .optional(),
  actions: z.array(ScopeAction).min(1).max(7),
});
export type TokenScope = z.infer<typeof TokenScope>;

/** The address a login comes from (throttling is per account and per address); the door fills it in. */
export const ClientAddress = z.string().min(1).max(100);

/**
 * Who a credential belongs to, as both doors need it (the same shape as `Principal`, plus the
 * token's id so a cache can forget it when it is revoked). Robots have `kind: 'robot'` and the
 * token's id as `user.id`.
 */
export const AuthenticatedPrincipal = z.object({
  user: UserRecord,
  teamId: z.string().uuid().nullable(),
  teamName: z.string().nullable(),
  kind: z.enum(['user', 'robot']).optional(),
  scopes: z.array(TokenScope).optional(),
  tokenId: z.string().uuid().optional(),
  /** When the token expires: no cache may keep it past this. */
  expiresAt: IsoDate.optional(),
});
export type AuthenticatedPrincipal = z.infer<typeof AuthenticatedPrincipal>;

/**
 * Checks a username/password pair; UNAUTHENTICATED when it does not match, TOO_MANY_REQUESTS
 * (with `details.retryAfterSeconds`) while this account is throttled for this address.
 */
export const authenticateUser = defineRequest(
  'muelle.metadata.users.authenticate.v1',
  z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024), clientAddress: ClientAddress.optional() }),
  AuthenticatedPrincipal,
  // Up to a few password hashes queue ahead of this one (one at a time per core).
  15_000,
);

/** Checks an API token (`mle_…`); UNAUTHENTICATED when unknown, revoked or expired, or its user is disabled. */
export const authenticateToken = defineRequest(
  'muelle.metadata.tokens.authenticate.v1',
  z.object({ token: z.string().min(1).max(256), clientAddress: ClientAddress.optional() }),
  AuthenticatedPrincipal,
);

export const TokenTtlSeconds = z
  .number()
  .int()
  .positive()
  .max(10 * 366 * 24 * 3600, 'at most ten years');

/**
 * A personal token (for `userId`, optionally narrowed by `scopes`) or a robot token (for `teamId`:
 * owned by the team, `scopes` required). NOT_FOUND for an unknown user or team.
 */
export const createToken = defineRequest(
  'muelle.metadata.tokens.create.v1',
  z
    .object({
      userId: z.string().uuid().optional(),
      teamId: z.string().uuid().optional(),
      name: z.string().min(1).max(100),
      ttlSeconds: TokenTtlSeconds.optional(),
      scopes: z.array(TokenScope).min(1).max(32).optional(),
      createdBy: z.string().uuid().optional(),
    })
    .refine((t) => !!t.userId !== !!t.teamId, 'a token belongs to a user (userId) or to a team (teamId), not both')
    .refine((t) => !t.teamId || !!t.scopes, 'a robot token needs scopes'),
  z.object({ id: z.string().uuid(), token: z.string(), expiresAt: z.string().nullable(), name: z.string() }),
);

export const RobotName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ - (max 64)');

export const TokenRecord = z.object({
  id: z.string().uuid(),
  name: z.string(),
  kind: z.enum(['user', 'robot']),
  /** The owner: the user (personal tokens) or the team (robots). */
  userId: z.string().uuid().nullable(),
  username: z.string().nullable(),
  teamId: z.string().uuid().nullable(),
  teamName: z.string().nullable(),
  /** What `docker login -u` takes for a robot (`<team>+<name>`); the owner's username otherwise. */
  loginName: z.string(),
  scopes: z.array(TokenScope).nullable(),
  createdAt: IsoDate,
  expiresAt: IsoDate.nullable(),
  revokedAt: IsoDate.nullable(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

/** Tokens of one user (personal) and/or one team (robots); both unset: every token (admins). */
export const listTokens = defineRequest(
  'muelle.metadata.tokens.list.v1',
  z.object({ userId: z.string().uuid().optional(), teamId: z.string().uuid().optional(), includeRevoked: z.boolean().default(false) }),
  z.object({ items: z.array(TokenRecord) }),
);

export const getToken = defineRequest('muelle.metadata.tokens.get.v1', z.object({ id: z.string().uuid() }), TokenRecord);

/** Revokes a token (idempotent); NOT_FOUND for an unknown id. Every cache forgets it (`accountsChanged`). */
export const revokeToken = defineRequest('muelle.metadata.tokens.revoke.v1', z.object({ id: z.string().uuid() }), TokenRecord);

export const UserSummary = z.object({
  id: z.string().uuid(),
  username: z.string(),
  role: Role,
  teamId: z.string().uuid().nullable(),
  teamName: z.string().nullable(),
  disabled: z.boolean(),
  createdAt: IsoDate,
});
export type UserSummary = z.infer<typeof UserSummary>;

/** Users, by name; `teamId` limits the list to one team. */
export const listUsers = defineRequest('muelle.metadata.users.list.v1', z.object({ teamId: z.string().uuid().optional() }), z.object({ items: z.array(UserSummary) }));

/** One user by id or username (disabled ones too); NOT_FOUND otherwise. */
export const getUser = defineRequest('muelle.metadata.users.get.v1', z.object({ ref: z.string().min(1).max(64) }), UserSummary);

/** Disables (its logins and tokens stop working) or re-enables a user. */
export const setUserDisabled = defineRequest('muelle.metadata.users.disable.v1', z.object({ id: z.string().uuid(), disabled: z.boolean() }), UserSummary);

/**
 * Sets a password. With `currentPassword` (a user changing its own) that one must match, else
 * UNAUTHENTICATED; without it this is an admin's reset. The user's other logins are forgotten.
 */
export const setPassword = defineRequest(
  'muelle.metadata.users.password.v1',
  z.object({ id: z.string().uuid(), newPassword: Password, currentPassword: z.string().min(1).max(1024).optional(), clientAddress: ClientAddress.optional() }),
  UserSummary,
  15_000,
);

/**
 * Credentials that stopped working (user disabled, password changed, token revoked): every api
 * and registry replica drops what it cached for them at once. Delivered to every replica (not a
 * queue group); a replica that misses it still forgets within its cache's lifetime (10 s).
 */
export const accountsChanged = defineEvent(
  'muelle.metadata.accounts.changed.v1',
  z.object({
    reason: z.enum(['user-disabled', 'user-enabled', 'password-changed', 'token-revoked']),
    userId: z.string().uuid().optional(),
    tokenId: z.string().uuid().optional(),
  }),
);
