import { MigrationInterface, QueryRunner } from 'typeorm';

/** The address manager's record: which subnet belongs to which host (later: network). */
export class SubnetAllocations1764700100000 implements MigrationInterface {
  name = 'SubnetAllocations1764700100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE subnet_allocations (cidr text PRIMARY KEY, owner text NOT NULL UNIQUE, allocated_at timestamptz NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE subnet_allocations`);
  }
}
