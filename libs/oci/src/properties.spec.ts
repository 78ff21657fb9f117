import fc from 'fast-check';
import { ManifestInvalidError, OciError } from './errors';
import { isValidDigest, isValidRepositoryName, isValidTag, parseDigest } from './grammar';
import { parseManifest } from './manifest';
import { MediaType } from './media-types';
import { formatReference, parseReference } from './reference';

const RUNS = { numRuns: 500 };

const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const digestArb = fc.oneof(hex(64).map((h) => `sha256:${h}`), hex(128).map((h) => `sha512:${h}`));
const alnum = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 8 });
const separator = fc.constantFrom('.', '_', '__', '-', '--', '---');
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(''));
const repositoryArb = fc.array(pathComponent, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const tagArb = fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,40}$/);
const hostArb = fc.oneof(
  fc.constantFrom('localhost', 'localhost:5000', '127.0.0.1:5000', '[::1]:5000', 'registry.example.org', 'reg.internal:443'),
  fc.tuple(alnum, alnum).map(([a, b]) => `${a}.${b}`),
);
const DEFAULT_REGISTRY = 'registry.muelle.internal:5000';

/** Only our typed errors may escape a parser fed garbage. */
function onlyTypedErrors(run: () => unknown): boolean {
  try {
    run();
  } catch (error) {
    if (!(error instanceof OciError)) throw error;
  }
  return true;
}

describe('grammar properties', () => {
  it('accepts every generated repository name, tag and digest', () => {
    fc.assert(fc.property(repositoryArb, (name) => isValidRepositoryName(name)), RUNS);
    fc.assert(fc.property(tagArb, (tag) => isValidTag(tag)), RUNS);
    fc.assert(
      fc.property(digestArb, (digest) => {
        const parsed = parseDigest(digest);
        return `${parsed.algorithm}:${parsed.encoded}` === digest;
      }),
      RUNS,
    );
  });

  it('rejects digests with any single character changed to uppercase hex or truncated', () => {
    fc.assert(
      fc.property(digestArb, fc.nat(), (digest, seed) => {
        const colon = digest.indexOf(':');
        const at = colon + 1 + (seed % (digest.length - colon - 1));
        const upper = digest.slice(0, at) + 'A' + digest.slice(at + 1);
        return !isValidDigest(upper) && !isValidDigest(digest.slice(0, -1)) && !isValidDigest(`${digest}0`);
      }),
      RUNS,
    );
  });

  it('never throws anything but typed errors on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (input) => {
        isValidRepositoryName(input);
        isValidTag(input);
        return onlyTypedErrors(() => parseDigest(input)) && onlyTypedErrors(() => parseReference(input, DEFAULT_REGISTRY));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches path-like junk fast (no catastrophic backtracking)', () => {
    const started = Date.now();
    isValidRepositoryName(`${'a-'.repeat(120)}!`);
    isValidRepositoryName(`${'a.'.repeat(127)}`);
    isValidDigest(`${'a+'.repeat(5000)}:x`);
    expect(Date.now() - started).toBeLessThan(200);
  });
});

describe('reference properties', () => {
  const referenceText = fc
    .record({
      host: fc.option(hostArb, { nil: undefined }),
      repository: repositoryArb,
      tag: fc.option(tagArb, { nil: undefined }),
      digest: fc.option(digestArb, { nil: undefined }),
    })
    // Without a host, a first component like "a.b" would itself be read as a host (docker's rule): not a valid case here.
    .filter(({ host, repository }) => host !== undefined || !repository.includes('/') || !/[.:]|^localhost$/.test(repository.split('/')[0]))
    .map(({ host, repository, tag, digest }) => `${host ? `${host}/` : ''}${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`)
    .filter((text) => text.split('@')[0].replace(/:[^/:]*$/, '').length <= 255);

  it('round-trips formatReference(parseReference(x)), with or without the default registry', () => {
    fc.assert(
      fc.property(referenceText, (text) => {
        const parsed = parseReference(text, DEFAULT_REGISTRY);
        const full = formatReference(parsed);
        const short = formatReference(parsed, { defaultRegistry: DEFAULT_REGISTRY });
        expect(parseReference(full, DEFAULT_REGISTRY)).toEqual(parsed);
        expect(parseReference(short, DEFAULT_REGISTRY)).toEqual(parsed);
        expect(formatReference(parseReference(full, DEFAULT_REGISTRY))).toBe(full);
      }),
      RUNS,
    );
  });

  it('keeps an explicit registry and defaults the tag only without a digest', () => {
    fc.assert(
      fc.property(hostArb, repositoryArb, fc.option(digestArb, { nil: undefined }), (host, repository, digest) => {
        const parsed = parseReference(`${host}/${repository}${digest ? `@${digest}` : ''}`, DEFAULT_REGISTRY);
        expect(parsed.registry).toBe(host);
        expect(parsed.repository).toBe(repository);
        expect(parsed.tag).toBe(digest ? undefined : 'latest');
      }),
      RUNS,
    );
  });
});

describe('manifest properties', () => {
  const descriptorArb = fc.record({
    mediaType: fc.constantFrom(MediaType.OciLayerGzip, MediaType.OciLayerTar, 'application/vnd.example+json'),
    digest: digestArb,
    size: fc.nat({ max: 2 ** 40 }),
  });
  const manifestArb = fc.record({
    schemaVersion: fc.constant(2),
    mediaType: fc.constant(MediaType.OciManifest),
    config: descriptorArb,
    layers: fc.array(descriptorArb, { maxLength: 6 }),
    annotations: fc.option(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })), { nil: undefined }),
  });

  it('accepts every generated manifest and lists config + layers as blobs', () => {
    fc.assert(
      fc.property(manifestArb, (manifest) => {
        const parsed = parseManifest(Buffer.from(JSON.stringify(manifest)), MediaType.OciManifest);
        expect(parsed.referencedBlobs.map((b) => b.digest)).toEqual([manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);
      }),
      RUNS,
    );
  });

  it('answers arbitrary JSON and arbitrary bytes only with ManifestInvalidError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json().map((j) => Buffer.from(j)), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))), fc.option(fc.constantFrom(MediaType.OciManifest, MediaType.OciIndex, 'text/plain', 'x'), { nil: undefined }), (body, contentType) =>
        onlyTypedErrors(() => parseManifest(body, contentType)),
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects a manifest when any one descriptor field is corrupted', () => {
    const corruptions: Array<(d: Record<string, unknown>) => void> = [
      (d) => (d.size = -1),
      (d) => (d.size = 0.5),
      (d) => (d.digest = String(d.digest).toUpperCase()),
      (d) => delete d.mediaType,
      (d) => (d.digest = String(d.digest).slice(0, -2)),
    ];
    fc.assert(
      fc.property(manifestArb.filter((m) => m.layers.length > 0), fc.nat(), fc.constantFrom(...corruptions.keys()), (manifest, which, corruption) => {
        const broken = JSON.parse(JSON.stringify(manifest));
        corruptions[corruption](broken.layers[which % broken.layers.length]);
        expect(() => parseManifest(Buffer.from(JSON.stringify(broken)))).toThrow(ManifestInvalidError);
      }),
      RUNS,
    );
  });
});
