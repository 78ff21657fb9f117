import type { EntityManager } from 'typeorm';

/** What the registry's SQL helpers need: a DataSource or a transaction's manager. */
export type Sql = Pick<EntityManager, 'query'>;

/** Transaction-scoped advisory locks, taken in one fixed order (muelle_lock_keys) so two transactions never deadlock. */
export async function lockDigests(m: Sql, keys: string[]): Promise<void> {
  await m.query(`SELECT muelle_lock_keys($1::text[])`, [keys]);
}

/** TypeORM's postgres driver returns [rows, affected] for UPDATE/DELETE … RETURNING, plain rows for SELECT/INSERT. */
export function rowsOf(result: any): any[] {
  return Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number' ? result[0] : result;
}
