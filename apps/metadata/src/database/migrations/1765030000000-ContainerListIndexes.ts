import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes in the container list's own order, `created_at DESC, id DESC` (ContainersService.list and
 * its cursor), so a page is read from an index instead of sorting every matching row: the whole
 * table (`all`), the live states (`docker ps` without -a), one host, one team. The older
 * `containers_list` (team, created_at DESC, id ASC) had the id the wrong way round for the
 * tie-break and is replaced. Measured with tools/bench/api/scale.mjs (20,000 records).
 */
export class ContainerListIndexes1765030000000 implements MigrationInterface {
  name = 'ContainerListIndexes1765030000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX containers_page ON containers(created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX containers_live_page ON containers(created_at DESC, id DESC) WHERE state IN ('running', 'restarting', 'paused')`);
    await q.query(`CREATE INDEX containers_host_page ON containers(host_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX containers_team_page ON containers(team_id, created_at DESC, id DESC)`);
    await q.query(`DROP INDEX containers_list`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX containers_list ON containers(team_id, created_at DESC, id)`);
    await q.query(`DROP INDEX containers_team_page`);
    await q.query(`DROP INDEX containers_host_page`);
    await q.query(`DROP INDEX containers_live_page`);
    await q.query(`DROP INDEX containers_page`);
  }
}
