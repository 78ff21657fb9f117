import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One counter bumped by every placement (a container recorded on a host, or moved to one). An api
 * replica decides from a usage snapshot taken at a generation and records only if the generation is
 * still that one, so replicas deciding at once never overbook a host (see ContainersService.create).
 */
export class PlacementGeneration1764860000000 implements MigrationInterface {
  name = 'PlacementGeneration1764860000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE placement_generation (id smallint PRIMARY KEY CHECK (id = 1), value bigint NOT NULL)`);
    await q.query(`INSERT INTO placement_generation (id, value) VALUES (1, 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE placement_generation`);
  }
}
