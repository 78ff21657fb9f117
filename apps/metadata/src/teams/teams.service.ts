import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { ConflictError, HostRecord, NotFoundError, Principal, TeamRecord, UserRecord } from '@muelle/contracts';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { HostEntity, UserEntity } from '../entities';
import { HostsService } from '../hosts/hosts.service';
import { hashPassword } from '../users/password';
import { TeamEntity } from './team.entity';

@Injectable()
export class TeamsService {
  constructor(
    @InjectRepository(TeamEntity)
    private readonly teams: Repository<TeamEntity>,
    @InjectRepository(UserEntity)
    private readonly users: Repository<UserEntity>,
    @InjectRepository(HostEntity)
    private readonly hostRows: Repository<HostEntity>,
    private readonly hosts: HostsService,
  ) {}

  async createTeam(name: string): Promise<TeamRecord> {
    const inserted = await this.teams.createQueryBuilder().insert().values({ id: randomUUID(), name, createdAt: new Date() }).orIgnore().returning('id').execute();
    if (!inserted.raw.length) throw new ConflictError(`team "${name}" already exists`, { name });
    return toTeam(await this.teams.findOneByOrFail({ name }));
  }

  async listTeams(): Promise<TeamRecord[]> {
    return (await this.teams.find({ order: { name: 'ASC' } })).map(toTeam);
  }

  async createUser(input: { username: string; password: string; role: UserRecord['role']; teamId: string | null }): Promise<Principal> {
    if (input.teamId && !(await this.teams.existsBy({ id: input.teamId })))
      throw new NotFoundError(`team ${input.teamId} not found`, {
        field: 'teamId',
      });
    const id = randomUUID();
    const inserted = await this.users
      .createQueryBuilder()
      .insert()
      .values({
        id,
        username: input.username,
        passwordHash: await hashPassword(input.password),
        role: input.role,
        teamId: input.teamId,
        disabled: false,
        createdAt: new Date(),
      })
      .orIgnore()
      .returning('id')
      .execute();
    if (!inserted.raw.length)
      throw new ConflictError(`user "${input.username}" already exists`, {
        field: 'username',
      });
    return this.principal(id);
  }

  async principal(userId: string): Promise<Principal> {
    const user = await this.users.findOneBy({ id: userId });
    if (!user || user.disabled) throw new NotFoundError(`user ${userId} not found`);
    const team = user.teamId ? await this.teams.findOneBy({ id: user.teamId }) : null;
    return {
      user: { id: user.id, username: user.username, role: user.role },
      teamId: team?.id ?? null,
      teamName: team?.name ?? null,
    };
  }

  async setCordoned(id: string, cordoned: boolean): Promise<HostRecord> {
    const result = await this.hostRows.update({ id }, { cordoned });
    if (!result.affected) throw new NotFoundError(`host ${id} not found`);
    return this.hosts.get(id);
  }
}

const toTeam = (row: TeamEntity): TeamRecord => ({
  id: row.id,
  name: row.name,
  createdAt: row.createdAt.toISOString(),
});
