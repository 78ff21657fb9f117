import { shapeDifferences } from '@muelle/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toDockerVolume, toMuelleVolume, volumeFilter } from './volumes.mapping';

/** Volume answers against dockerd 20.10's (fixtures/engine/volume*.json, recorded with curl on its socket). */
const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, 'fixtures/engine', `${name}.json`), 'utf8'));
const record = { name: 'parity-vol', teamId: null, driver: 'local' as const, labels: { parity: 'yes' }, hostId: 'host-a', createdAt: '2026-12-04T02:44:47.123Z' };

describe('Docker volume mapping', () => {
  it('inspect, create and list have the keys and JSON types of dockerd', () => {
    expect(shapeDifferences(fixture('volume-inspect').body, toDockerVolume(record))).toEqual([]);
    expect(shapeDifferences(fixture('volume-create').body, toDockerVolume(record))).toEqual([]);
    expect(shapeDifferences(fixture('volumes-list').body, { Volumes: [toDockerVolume(record)], Warnings: null })).toEqual([]);
    expect(toDockerVolume(record).CreatedAt).toBe('2026-12-04T02:44:47Z');
  });

  it('takes what the docker CLI sends and refuses other drivers, driver options and unknown fields by name', () => {
    expect(toMuelleVolume({ Name: '', Driver: 'local', DriverOpts: {}, Labels: {} })).toEqual({ driver: 'local', labels: {} });
    expect(toMuelleVolume({ Name: 'data', Labels: { a: 'b' } })).toEqual({ name: 'data', driver: 'local', labels: { a: 'b' } });
    expect(() => toMuelleVolume({ Name: 'x', Driver: 'nfs' })).toThrow(/volume driver nfs \(only local\) is not supported/);
    expect(() => toMuelleVolume({ Name: 'x', DriverOpts: { type: 'tmpfs' } })).toThrow(/driver option type/);
    expect(() => toMuelleVolume({ Name: 'x', ClusterVolumeSpec: {} })).toThrow(/volume option ClusterVolumeSpec/);
    expect(() => toMuelleVolume({ Name: 'a/b' })).toThrow(/body.name/);
  });

  it('filters by name, label, driver and dangling, and refuses other filters', () => {
    const v = { ...record, usedBy: [] as string[] };
    expect(volumeFilter({ name: ['vol'], label: ['parity=yes'], dangling: ['true'], driver: ['local'] })(v)).toBe(true);
    expect(volumeFilter({ dangling: ['false'] })(v)).toBe(false);
    expect(volumeFilter({ label: ['parity=no'] })(v)).toBe(false);
    expect(() => volumeFilter({ scope: ['local'] })).toThrow(/volume filter scope/);
  });
});
