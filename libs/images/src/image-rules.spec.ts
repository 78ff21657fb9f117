import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkCommandExists,
  DEFAULT_PATH,
  directoryRoot,
  familiarName,
  findByImageId,
  hostPlatform,
  imageIdPrefixOf,
  layeredRoot,
  localSpellings,
  MAX_ID_FILE_BYTES,
  mergeEnv,
  normalizePlatform,
  parseImageName,
  parsePlatform,
  readFileInRoot,
  requireManifest,
  resolveUser,
  selectManifest,
  shortImageId,
  withDefaultPath,
  type Platform,
} from './index';

// The one table of image rules the agent, the builder and the api all go through.
const REGISTRY = '127.0.0.1:5000';

describe('image names', () => {
  const table: Array<[string, string[] | string]> = [
    ['busybox', ['library/busybox:latest', 'busybox:latest']],
    ['library/busybox', ['library/busybox:latest', 'busybox:latest']],
    ['docker.io/library/busybox', ['library/busybox:latest', 'busybox:latest']],
    ['index.docker.io/library/busybox:1.36', ['library/busybox:1.36', 'busybox:1.36']],
    ['docker.io/busybox:acc', ['library/busybox:acc', 'busybox:acc']],
    ['team/app:v1', ['team/app:v1']],
    [`${REGISTRY}/team/app:v1`, ['team/app:v1']],
    ['localhost:65535/app', ['localhost:65535/app:latest']],
    ['localhost:1/app', ['localhost:1/app:latest']],
    ['localhost:65536/app', 'port 65536 is outside 1-65535'],
    ['localhost:0/app', 'port 0 is outside 1-65535'],
    ['Busybox', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
  ];
  it.each(table)('%s → %j', (name, expected) => {
    if (typeof expected === 'string') {
      expect(() => parseImageName(name, REGISTRY)).toThrow(expected);
      return;
    }
    const spellings = localSpellings(parseImageName(name, REGISTRY), REGISTRY).map((ref) =>
      ref.registry === REGISTRY ? `${ref.repository}:${ref.tag}` : `${ref.registry}/${ref.repository}:${ref.tag}`,
    );
    expect(spellings).toEqual(expected);
  });

  it('a digest pins every spelling; familiar names drop the registry and library/', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const [first] = localSpellings(parseImageName(`busybox@${digest}`, REGISTRY), REGISTRY);
    expect(first).toEqual({ registry: REGISTRY, repository: 'library/busybox', digest });
    expect(familiarName({ registry: REGISTRY, repository: 'library/busybox', tag: '1' }, REGISTRY)).toBe('busybox:1');
    expect(familiarName({ registry: 'r.example:5000', repository: 'a/b', tag: '1' }, REGISTRY)).toBe('r.example:5000/a/b:1');
  });

  it.each([
    ['sha256:' + 'ab'.repeat(32), 'ab'.repeat(32)],
    ['abababababab', 'abababababab'],
    ['sha256:abababababab', 'abababababab'],
    ['ababababab', undefined], // under 12: a name, not an id
    ['busybox', undefined],
    ['ABABABABABAB', undefined],
  ])('image id prefix %s → %s', (text, prefix) => {
    expect(imageIdPrefixOf(text)).toBe(prefix);
  });

  it('finds an image by its id or a unique prefix; an ambiguous prefix is a clear 400', () => {
    const images = [{ id: `sha256:aaaaaaaaaaaa1${'0'.repeat(51)}` }, { id: `sha256:aaaaaaaaaaaa2${'0'.repeat(51)}` }, { id: `sha256:${'b'.repeat(64)}` }];
    expect(findByImageId(images, 'bbbbbbbbbbbb')).toBe(images[2]);
    expect(findByImageId(images, `sha256:${'b'.repeat(64)}`)).toBe(images[2]);
    expect(findByImageId(images, 'aaaaaaaaaaaa2')).toBe(images[1]);
    expect(findByImageId(images, 'cccccccccccc')).toBeUndefined();
    expect(findByImageId(images, 'busybox')).toBeUndefined();
    expect(() => findByImageId(images, 'aaaaaaaaaaaa')).toThrow('image id aaaaaaaaaaaa is ambiguous: 2 images start with it, use more characters');
  });

  it('short ids are the 12 characters docker shows', () => {
    expect(shortImageId(`sha256:${'0123456789ab'.repeat(5)}abcd`)).toBe('0123456789ab');
  });
});

describe('platform selection', () => {
  const entry = (architecture: string, variant?: string, os = 'linux') => ({ digest: `${os}/${architecture}/${variant ?? ''}`, platform: { os, architecture, ...(variant ? { variant } : {}) } });
  const index = [entry('amd64'), entry('arm', 'v6'), entry('arm', 'v7'), entry('arm64', 'v8'), entry('amd64', undefined, 'windows'), entry('386')];
  const table: Array<[string, Platform, string | undefined]> = [
    ['the exact platform', { os: 'linux', architecture: 'amd64' }, 'linux/amd64/'],
    ['uname spelling', { os: 'linux', architecture: 'x86_64' }, 'linux/amd64/'],
    ['arm is arm/v7', { os: 'linux', architecture: 'arm' }, 'linux/arm/v7'],
    ['arm/v6 takes v6 only', { os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v6'],
    ['arm/v8 runs v7 best', { os: 'linux', architecture: 'arm', variant: 'v8' }, 'linux/arm/v7'],
    ['arm64 ≡ arm64/v8', { os: 'linux', architecture: 'aarch64' }, 'linux/arm64/v8'],
    ['amd64/v3 runs v1', { os: 'linux', architecture: 'amd64', variant: 'v3' }, 'linux/amd64/'],
    ['no riscv64 entry', { os: 'linux', architecture: 'riscv64' }, undefined],
  ];
  it.each(table)('%s', (_, wanted, chosen) => {
    expect(selectManifest(index, wanted)?.digest).toBe(chosen);
  });

  it('entries without a platform match last, as containerd treats them', () => {
    expect(selectManifest<{ digest: string; platform?: Platform }>([{ digest: 'a' }, entry('amd64')], { os: 'linux', architecture: 'amd64' })?.digest).toBe('linux/amd64/');
    expect(selectManifest<{ digest: string; platform?: Platform }>([{ digest: 'a' }], { os: 'linux', architecture: 's390x' })?.digest).toBe('a');
  });

  it('defaults to the host platform and names the platform when nothing fits', () => {
    const host = hostPlatform();
    expect(selectManifest([entry('s390x'), entry(host.architecture, host.variant)])?.digest).toBe(`linux/${host.architecture}/${host.variant ?? ''}`);
    expect(() => requireManifest([entry('s390x', undefined, 'windows')], 'busybox:1', { os: 'linux', architecture: 'amd64' })).toThrow(
      'no matching manifest for linux/amd64 in the manifest list entries of busybox:1',
    );
  });

  it('parses and normalises --platform', () => {
    expect(parsePlatform('Linux/ARM64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(normalizePlatform(parsePlatform('linux/arm64/v8')!)).toEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64' }));
    expect(parsePlatform('linux')?.architecture).toBe(hostPlatform().architecture);
    expect(parsePlatform('linux/amd64/v2/x')).toBeNull();
    expect(parsePlatform('linux/$x')).toBeNull();
  });
});

describe('users, files and PATH inside a root', () => {
  let base: string;
  let root: string;
  let outside: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'image-rules-'));
    root = join(base, 'root');
    outside = join(base, 'outside');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(outside);
    await writeFile(
      join(root, 'etc/passwd'),
      ['root:x:0:0:root:/root:/bin/sh', '# comment', 'app:x:1000:1001:app:/home/app:/bin/sh', '2000:x:2001:2002::/numeric-name:/bin/sh', 'broken:x:abc:0::/:/bin/sh', ''].join('\n'),
    );
    await writeFile(join(root, 'etc/group'), ['root:x:0:', 'app:x:1001:', 'audio:x:29:app,other', 'video:x:44:app', 'staff:x:50:'].join('\n'));
    await writeFile(join(root, 'bin/busybox'), '');
    await symlink('/bin/busybox', join(root, 'bin/sh'));
    await writeFile(join(outside, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  const table: Array<[string | undefined, { uid: number; gid: number; additionalGids: number[]; home: string } | string]> = [
    [undefined, { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['app', { uid: 1000, gid: 1001, additionalGids: [29, 44], home: '/home/app' }],
    ['1000', { uid: 1000, gid: 1001, additionalGids: [29, 44], home: '/home/app' }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' }],
    ['app:77', { uid: 1000, gid: 77, additionalGids: [], home: '/home/app' }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [], home: '/' }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [], home: '/' }],
    ['2000', { uid: 2001, gid: 2002, additionalGids: [], home: '/numeric-name' }],
    ['nobody', 'unable to find user nobody'],
    ['app:nogroup', 'unable to find group nogroup'],
    ['broken', 'unable to find user broken'],
    ['4294967295', 'id out of range'],
    [':0', 'empty user name'],
  ];
  it.each(table)('user %j → %j', async (spec, expected) => {
    const answer = resolveUser(directoryRoot(root), spec);
    if (typeof expected === 'string') await expect(answer).rejects.toThrow(expected);
    else await expect(answer).resolves.toEqual(expected);
  });

  it('the same answers from unpacked layers, the top layer winning per file', async () => {
    const upper = join(base, 'upper');
    await mkdir(join(upper, 'etc'), { recursive: true });
    await writeFile(join(upper, 'etc/passwd'), 'app:x:3000:3000::/upper:/bin/sh\n');
    expect(await resolveUser(layeredRoot([upper, root]), 'app')).toEqual({ uid: 3000, gid: 3000, additionalGids: [29, 44], home: '/upper' });
    expect(await resolveUser(layeredRoot([root]), 'app')).toEqual(await resolveUser(directoryRoot(root), 'app'));
  });

  it('never follows a symlink out of the root', async () => {
    const evil = join(base, 'evil-root');
    await mkdir(join(evil, 'etc'), { recursive: true });
    // Absolute and climbing links both resolve inside the root, where nothing is.
    await symlink(join(outside, 'passwd'), join(evil, 'etc/passwd'));
    await symlink('../../../../../../outside', join(evil, 'etc/group'));
    await expect(resolveUser(directoryRoot(evil), 'evil')).rejects.toThrow('unable to find user evil');
    await expect(readFileInRoot(directoryRoot(evil), '/etc/passwd', 1024)).resolves.toBeUndefined();
    // A link to the root's own file is followed.
    await symlink('/etc/passwd', join(root, 'passwd-link'));
    await expect(readFileInRoot(directoryRoot(root), '/passwd-link', 1024)).resolves.toEqual(expect.any(Buffer));
  });

  it('caps what it reads', async () => {
    const big = join(base, 'big-root');
    await mkdir(join(big, 'etc'), { recursive: true });
    await writeFile(join(big, 'etc/passwd'), Buffer.alloc(MAX_ID_FILE_BYTES + 1, 0x61));
    await expect(resolveUser(directoryRoot(big), 'app')).rejects.toThrow(`over the ${MAX_ID_FILE_BYTES}-byte limit`);
  });

  it('finds commands on the image PATH or Docker’s default', async () => {
    const view = directoryRoot(root);
    await expect(checkCommandExists(view, 'sh', [])).resolves.toBeUndefined();
    await expect(checkCommandExists(view, '/bin/sh', [])).resolves.toBeUndefined();
    await expect(checkCommandExists(view, 'sh', ['PATH=/usr/bin'])).rejects.toThrow("not found in the image's PATH (/usr/bin)");
    await expect(checkCommandExists(view, '/bin/nope', [])).rejects.toThrow('no such file in the image');
  });

  it('PATH and env defaults', () => {
    expect(DEFAULT_PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(withDefaultPath(['A=1'])).toEqual([`PATH=${DEFAULT_PATH}`, 'A=1']);
    expect(withDefaultPath(['PATH=/x'])).toEqual(['PATH=/x']);
    expect(mergeEnv(['A=1', 'B=2'], ['A=3', 'C=4'])).toEqual(['A=3', 'B=2', 'C=4']);
  });
});
