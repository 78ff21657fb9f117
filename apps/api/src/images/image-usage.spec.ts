import type { RequestPrincipal } from '../auth/principal';
import type { CatalogImage } from './image-catalog';
import { ImageUsage } from './image-usage';

const REGISTRY = 'registry.test:5000';
const image = (id: string, refs: string[], repoTags: string[], labels: Record<string, string> = {}): CatalogImage => ({
  id: `sha256:${id.repeat(64).slice(0, 64)}`,
  repoTags,
  repoDigests: [],
  repository: refs[0]!.split('/').slice(1).join('/').split(':')[0]!,
  reference: 'x',
  manifestDigest: `sha256:${id.repeat(64).slice(0, 63)}f`,
  refs,
  size: 100,
  config: { config: { Labels: labels } },
});

describe('ImageUsage (image prune, system df)', () => {
  const dangling = image('a', [`${REGISTRY}/alpha/untagged:build-1`], [], { keep: 'no' });
  const unused = image('b', [`${REGISTRY}/alpha/web:1`], ['alpha/web:1'], { keep: 'no' });
  const used = image('c', [`${REGISTRY}/alpha/api:1`], ['alpha/api:1']);
  const shared = image('d', [`${REGISTRY}/library/busybox:1`], ['busybox:1']);
  const removed: string[] = [];
  const usage = new ImageUsage(
    { registry: REGISTRY, list: async () => [dangling, unused, used, shared] } as never,
    {
      remove: async (_p: unknown, id: string) => {
        removed.push(id);
        const found = [dangling, unused, used, shared].find((i) => i.id === id)!;
        return { untagged: found.refs, id };
      },
    } as never,
    { list: async () => ({ items: [{ image: `${REGISTRY}/alpha/api:1`, imageDigest: null }], nextCursor: null }) } as never,
    // A member of alpha: library/ is shared, so not its to delete.
    { decide: async (_p: unknown, _a: string, repository: string) => ({ allowed: repository.startsWith('alpha/') }) } as never,
  );
  const principal = {} as RequestPrincipal;

  beforeEach(() => removed.splice(0));

  it('counts the containers made from each image', async () => {
    const { images } = await usage.usage(principal);
    expect(images.map((i) => [i.image.repoTags[0] ?? '<none>', i.containers])).toEqual([
      ['<none>', 0],
      ['alpha/web:1', 0],
      ['alpha/api:1', 1],
      ['busybox:1', 0],
    ]);
  });

  it('prunes dangling unused images, or with all every unused one the caller may delete', async () => {
    expect(await usage.prune(principal, { all: false, label: [] })).toEqual({ deleted: [{ Untagged: dangling.refs[0] }, { Deleted: dangling.id }], spaceReclaimed: 100 });
    expect(removed).toEqual([dangling.id]);
    removed.splice(0);
    const all = await usage.prune(principal, { all: true, label: [] });
    expect(removed).toEqual([dangling.id, unused.id]);
    expect(all.spaceReclaimed).toBe(200);
  });

  it('takes only images carrying every label given', async () => {
    await usage.prune(principal, { all: true, label: ['keep=no'] });
    expect(removed).toEqual([dangling.id, unused.id]);
    removed.splice(0);
    await usage.prune(principal, { all: true, label: ['keep=yes'] });
    expect(removed).toEqual([]);
  });
});
