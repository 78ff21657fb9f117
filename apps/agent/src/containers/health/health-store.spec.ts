import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FileHealthStore, SavedHealth } from './health-store';

const SAVED: SavedHealth = {
  containerStartedAt: '2026-12-04T10:00:00.000Z',
  status: 'healthy',
  failingStreak: 1,
  log: [{ start: '2026-12-04T10:00:01.000Z', end: '2026-12-04T10:00:01.100Z', exitCode: 1, output: 'no' }],
  startedAtMs: 1_000,
};

describe('FileHealthStore', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'muelle-health-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('saves a container state to its file and a new store reads it back; none or a bad file reads as nothing', async () => {
    const fileOf = (id: string) => join(dir, `${id}.json`);
    const store = new FileHealthStore(fileOf, pino({ level: 'silent' }));
    expect(store.load('a')).toBeUndefined();
    store.save('a', { ...SAVED, failingStreak: 0 });
    store.save('a', SAVED);
    for (let i = 0; i < 100 && (await readFile(fileOf('a'), 'utf8').catch(() => '')) !== JSON.stringify(SAVED); i++) await new Promise((r) => setTimeout(r, 10));
    expect(new FileHealthStore(fileOf, pino({ level: 'silent' })).load('a')).toEqual(SAVED);
    await writeFile(fileOf('b'), '{not json');
    expect(store.load('b')).toBeUndefined();
  });

  it('drops a save whose container folder is gone without a warning; other write errors are logged', async () => {
    const warn = jest.fn();
    const logger = { warn } as unknown as pino.Logger;
    new FileHealthStore((id) => join(dir, 'gone', id), logger).save('a', SAVED);
    await writeFile(join(dir, 'file'), '');
    new FileHealthStore((id) => join(dir, 'file', id), logger).save('b', SAVED);
    for (let i = 0; i < 100 && !warn.mock.calls.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(warn.mock.calls).toEqual([[expect.objectContaining({ id: 'b' }), 'health state not saved']]);
  });
});
