import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allInOneConfigSchema } from '../../apps/all-in-one/src/config';

// The README's configuration table is the user's reference: every variable any service reads
// must be in it, and it must not list variables nothing reads.
const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Running it distributed'));
const documented = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
const read = new Set(Object.keys(allInOneConfigSchema.shape));

describe('README configuration table', () => {
  it.each([...read])('documents %s', (variable) => {
    expect(documented).toContain(variable);
  });

  it('lists no variable that no service reads', () => {
    expect([...documented].filter((v) => !read.has(v))).toEqual([]);
  });
});
