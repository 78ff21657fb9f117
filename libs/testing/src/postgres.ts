import { Client } from 'pg';
import { randomBytes } from 'node:crypto';

export const POSTGRES_ADMIN_URL = process.env.MUELLE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, empty database on the real test PostgreSQL server; drop() removes it. */
export async function createTestDatabase(prefix = 'muelle_test'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export const NATS_TEST_URL = process.env.MUELLE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A bus namespace of its own for one test file, so platforms of concurrent runs never share NATS subjects. */
export const uniqueBusNamespace = () => `t${randomBytes(5).toString('hex')}`;
