import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Networks that span hosts (VXLAN): each network gets a VNI of its own from a sequence (existing
 * networks too), unique by constraint; each host may register the underlay address other hosts send
 * its VXLAN datagrams to.
 */
export class OverlayVni1765020000000 implements MigrationInterface {
  name = 'OverlayVni1765020000000';

  async up(q: QueryRunner): Promise<void> {
    // 4096 upwards: the low VNIs stay free for an operator's own VXLAN devices on the same underlay.
    await q.query(`CREATE SEQUENCE networks_vni_seq START 4096 MINVALUE 1 MAXVALUE 16777215`);
    await q.query(`ALTER TABLE networks ADD COLUMN vni integer NOT NULL DEFAULT nextval('networks_vni_seq') CHECK (vni BETWEEN 1 AND 16777215)`);
    await q.query(`ALTER SEQUENCE networks_vni_seq OWNED BY networks.vni`);
    await q.query(`ALTER TABLE networks ADD CONSTRAINT networks_vni_unique UNIQUE (vni)`);
    await q.query(`ALTER TABLE hosts ADD COLUMN underlay_address text NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hosts DROP COLUMN underlay_address`);
    await q.query(`ALTER TABLE networks DROP COLUMN vni`);
  }
}
