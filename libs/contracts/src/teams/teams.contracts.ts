import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate } from '../common';
import { HostRecord } from '../hosts/hosts.contracts';
import { Role, TokenScope, UserRecord, Username } from '../users/users.contracts';

/**
 * Tenancy: a team owns containers (their `teamId`) and the registry repositories under its name
 * (`<team>/…`). A member acts only inside its team; an admin sees and changes everything.
 */
export const TeamName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ - (max 64)');
export const TeamRecord = z.object({
  id: z.string().uuid(),
  name: TeamName,
  createdAt: IsoDate,
});
export type TeamRecord = z.infer<typeof TeamRecord>;

/** Who is calling, with what the API needs for authorization decisions. */
export const Principal = z.object({
  user: UserRecord,
  teamId: z.string().uuid().nullable(),
  teamName: TeamName.nullable(),
  /** `robot` for a team's robot token (then `user.id` is the token's id); absent means a user. */
  kind: z.enum(['user', 'robot']).optional(),
  /** Set for scoped and robot tokens: the subject may do no more than these (and its role). */
  scopes: z.array(TokenScope).optional(),
});
export type Principal = z.infer<typeof Principal>;

/** CONFLICT when the name is taken. */
export const createTeam = defineRequest('muelle.metadata.teams.create.v1', z.object({ name: TeamName }), TeamRecord);
export const listTeams = defineRequest('muelle.metadata.teams.list.v1', z.object({}), z.object({ items: z.array(TeamRecord) }));

/** Creates a user in a team (members must have one). CONFLICT when the username is taken, NOT_FOUND for an unknown team. */
export const createUser = defineRequest(
  'muelle.metadata.users.create.v1',
  z.object({
    username: Username,
    password: z.string().min(8, 'at least 8 characters').max(1024),
    role: Role.default('member'),
    teamId: z.string().uuid().nullable().default(null),
  }),
  Principal,
);

/** The user with its team; NOT_FOUND for an unknown (or disabled) user. */
export const getPrincipal = defineRequest('muelle.metadata.users.principal.v1', z.object({ userId: z.string().uuid() }), Principal);

/**
 * Marks a host cordoned (no new containers are placed there) or uncordons it.
 * (Kept here because the control plane owns cordon/drain; it belongs with the hosts contracts.)
 */
export const setHostCordoned = defineRequest('muelle.metadata.hosts.cordon.v1', z.object({ id: HostRecord.shape.id, cordoned: z.boolean() }), HostRecord);
