import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester, chainIdsOf, digestOf, matchesDigest, sha256Hex } from './digest';
import { DigesterFinalizedError, DigesterStateError, InvalidDigestError } from './errors';

const nodeDigest = (alg: 'sha256' | 'sha512', data: Buffer) => `${alg}:${createHash(alg).update(data).digest('hex')}`;

describe('one-shot digests', () => {
  it('match node crypto and the well-known empty values', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(digestOf(Buffer.from('{}'))).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    const data = randomBytes(1000);
    expect(digestOf(data, 'sha512')).toBe(nodeDigest('sha512', data));
    expect(matchesDigest(data, digestOf(data, 'sha512'))).toBe(true);
    expect(matchesDigest(data, digestOf(Buffer.from('other')))).toBe(false);
    expect(() => matchesDigest(data, 'sha256:nope')).toThrow(InvalidDigestError);
  });

  it('computes ChainIDs as image-spec defines them', () => {
    const a = digestOf('a');
    const b = digestOf('b');
    const c = digestOf('c');
    const ab = digestOf(`${a} ${b}`);
    expect(chainIdsOf([a, b, c])).toEqual([a, ab, digestOf(`${ab} ${c}`)]);
    expect(chainIdsOf([])).toEqual([]);
  });
});

describe('Digester', () => {
  it('hashes sha256 and sha512 at once, matching node crypto', async () => {
    const data = randomBytes(70_000);
    const digester = await Digester.create();
    digester.update(data.subarray(0, 12_345)).update(data.subarray(12_345));
    expect(digester.size).toBe(data.length);
    expect(digester.digests()).toEqual({ sha256: nodeDigest('sha256', data), sha512: nodeDigest('sha512', data) });
    expect(digester.matches(nodeDigest('sha512', data))).toBe(true);
    expect(() => digester.update(Buffer.from('x'))).toThrow(DigesterFinalizedError);
  });

  it('survives save/restore at random split points (an upload moving between replicas)', async () => {
    for (let round = 0; round < 20; round += 1) {
      const data = randomBytes(1 + Math.floor(Math.random() * 300_000));
      const cuts = Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => Math.floor(Math.random() * data.length)).sort((x, y) => x - y);
      let state = (await Digester.create()).saveState();
      let previous = 0;
      for (const cut of [...cuts, data.length]) {
        const digester = await Digester.restore(state);
        expect(digester.size).toBe(previous);
        digester.update(data.subarray(previous, cut));
        state = digester.saveState();
        previous = cut;
      }
      const final = await Digester.restore(state);
      expect(final.size).toBe(data.length);
      expect(final.digests()).toEqual({ sha256: nodeDigest('sha256', data), sha512: nodeDigest('sha512', data) });
    }
  });

  it('restores a state in a freshly loaded module instance (no shared WASM memory)', async () => {
    const data = randomBytes(50_000);
    const first = await Digester.create();
    first.update(data.subarray(0, 20_000));
    const state = first.saveState();
    let FreshDigester: typeof Digester | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      FreshDigester = require('./digest').Digester;
    });
    expect(FreshDigester).toBeDefined();
    expect(FreshDigester).not.toBe(Digester);
    const second = await FreshDigester!.restore(state);
    second.update(data.subarray(20_000));
    expect(second.digest('sha256')).toBe(nodeDigest('sha256', data));
    expect(second.digest('sha512')).toBe(nodeDigest('sha512', data));
  });

  it('refuses corrupt or truncated states with a typed error', async () => {
    const digester = await Digester.create();
    digester.update(Buffer.from('hello'));
    const state = digester.saveState();
    await expect(Digester.restore(Buffer.from('garbage'))).rejects.toThrow(DigesterStateError);
    await expect(Digester.restore(state.subarray(0, state.length - 10))).rejects.toThrow(DigesterStateError);
    await expect(Digester.restore(Buffer.concat([state, Buffer.from('x')]))).rejects.toThrow(DigesterStateError);
    for (const offset of [5, 20, 100, state.length - 40, state.length - 1]) {
      const flipped = Buffer.from(state);
      flipped[offset] ^= 0xff;
      await expect(Digester.restore(flipped)).rejects.toThrow(DigesterStateError);
    }
  });

  it('hashes bytes flowing through its transform without changing them', async () => {
    const data = randomBytes(200_000);
    const digester = await Digester.create();
    const received: Buffer[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        received.push(chunk);
        cb();
      },
    });
    await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), digester.transform(), sink);
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect(digester.digest('sha256')).toBe(nodeDigest('sha256', data));
  });
});
