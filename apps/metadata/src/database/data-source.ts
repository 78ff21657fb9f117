// For the TypeORM CLI: `npx typeorm -d dist/apps/metadata/src/database/data-source.js migration:show`.
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './database';

export default new DataSource(dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'));
