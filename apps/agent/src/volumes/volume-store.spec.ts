import { ContainerSpec, InvalidArgumentError, NotFoundError } from '@muelle/contracts';
import { mkdtempSync } from 'node:fs';
import { link, lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teamVolumeName, VolumeStore, withTeamVolumes } from './volume-store';

const alpha = '11111111-1111-4111-8111-111111111111';
const beta = '22222222-2222-4222-8222-222222222222';

describe('team-scoped named volumes', () => {
  it('gives the same name in two teams two volumes, and keeps host-wide names for containers without a team', async () => {
    const store = new VolumeStore(mkdtempSync(join(tmpdir(), 'muelle-vol-')));
    await store.init();
    const alphaName = teamVolumeName(alpha, 'betavol');
    const betaName = teamVolumeName(beta, 'betavol');
    expect(alphaName).not.toBe(betaName);
    expect(teamVolumeName(null, 'betavol')).toBe('betavol');
    for (const name of [alphaName, betaName]) await store.ensure(name);
    await writeFile(join(store.dataPath(betaName), 'secret'), 'beta data');
    await expect(readFile(join(store.dataPath(alphaName), 'secret'))).rejects.toThrow(/ENOENT/);
    expect(store.dataPath(alphaName)).not.toBe(store.dataPath(betaName));
  });

  it("never lets a member's name reach another scope: every team name gets its team's prefix", () => {
    const crafted = teamVolumeName(beta, 'betavol');
    expect(teamVolumeName(alpha, crafted)).not.toBe(crafted);
    expect(teamVolumeName(alpha, crafted).startsWith(teamVolumeName(alpha, ''))).toBe(true);
  });

  it('resolves only named volumes of a spec, and refuses names too long to store', () => {
    const spec = ContainerSpec.parse({ image: 'busybox', volumes: [{ kind: 'volume', source: 'data', target: '/d' }, { kind: 'bind', source: '/srv/x', target: '/x' }] });
    const scoped = withTeamVolumes(spec, alpha);
    expect(scoped.volumes.map((v) => v.source)).toEqual([teamVolumeName(alpha, 'data'), '/srv/x']);
    expect(() => teamVolumeName(alpha, 'a'.repeat(120))).toThrow(InvalidArgumentError);
  });

  it('measures a volume by the bytes under its data directory, a hard link once, and refuses one that is not there', async () => {
    const store = new VolumeStore(mkdtempSync(join(tmpdir(), 'muelle-vol-')));
    await store.init();
    await store.ensure('sized');
    expect(await store.size('sized')).toBe(0);
    await writeFile(join(store.dataPath('sized'), 'a'), Buffer.alloc(3000));
    await link(join(store.dataPath('sized'), 'a'), join(store.dataPath('sized'), 'a-again'));
    await mkdir(join(store.dataPath('sized'), 'sub'));
    await writeFile(join(store.dataPath('sized'), 'sub', 'b'), 'x'.repeat(500));
    // 3000 (the linked file once) + 500 + the directory entry of sub (its size depends on the filesystem).
    expect(await store.size('sized')).toBe(3500 + (await lstat(join(store.dataPath('sized'), 'sub'))).size);
    await expect(store.size('missing')).rejects.toThrow(NotFoundError);
  });
});
