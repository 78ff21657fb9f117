import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A GIN index on container labels, so a label filter (`labels @> {"k": "v"}`, `labels ? k`) reads the
 * matching rows instead of every container. The services reconciler lists each service's tasks by
 * label every round: with 200 services over 25,000 records a steady round took 1.2 s on PostgreSQL,
 * growing with the records (tools/bench/api/reconcile.mjs).
 */
export class ContainerLabelIndex1765094000000 implements MigrationInterface {
  name = 'ContainerLabelIndex1765094000000';

  async up(q: QueryRunner): Promise<void> {
    // fastupdate off: no pending list, which the planner costs as a full read (it chose to read every
    // container instead) and which only VACUUM flushes (PGlite never runs autovacuum). Containers are
    // written a few at a time, so entering each one into the index at once costs little.
    await q.query(`CREATE INDEX containers_labels ON containers USING gin (labels) WITH (fastupdate = off)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX containers_labels`);
  }
}
