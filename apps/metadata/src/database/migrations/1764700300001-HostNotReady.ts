import { MigrationInterface, QueryRunner } from 'typeorm';

/** Why an agent cannot make containers (cgroups unusable, helper missing…), as it registered; null when it can. */
export class HostNotReady1764700300001 implements MigrationInterface {
  name = 'HostNotReady1764700300001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hosts ADD COLUMN not_ready text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hosts DROP COLUMN not_ready`);
  }
}
