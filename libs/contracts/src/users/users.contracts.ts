import { z } from 'zod';
import { defineRequest } from '../contract';

export const Role = z.enum(['admin', 'member', 'viewer']);
export const UserRecord = z.object({ id: z.string().uuid(), username: z.string(), role: Role });
export type UserRecord = z.infer<typeof UserRecord>;

export const Username = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ - (max 64)');

/** Checks a username/password pair; UNAUTHENTICATED when it does not match. */
export const authenticateUser = defineRequest(
  'muelle.metadata.users.authenticate.v1',
  z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
  UserRecord,
);

/** Checks an API token (`mle_…`); UNAUTHENTICATED when unknown, revoked or expired. */
export const authenticateToken = defineRequest(
  'muelle.metadata.tokens.authenticate.v1',
  z.object({ token: z.string().min(1).max(256) }),
  UserRecord,
);

export const createToken = defineRequest(
  'muelle.metadata.tokens.create.v1',
  z.object({ userId: z.string().uuid(), name: z.string().min(1).max(100), ttlSeconds: z.number().int().positive().optional() }),
  z.object({ id: z.string().uuid(), token: z.string(), expiresAt: z.string().nullable() }),
);
