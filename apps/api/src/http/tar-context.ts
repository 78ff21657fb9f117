import { InvalidArgumentError } from '@muelle/contracts';
import { Readable } from 'node:stream';

const BLOCK = 512;

/**
 * A build context must be a tar archive (plain, or gzip-compressed as `docker build - < ctx.tgz`
 * sends it). The first block is read and checked here, before anything is stored or sent to the
 * builder, so anything else is a 400 instead of a failure deep in the build. Returns a stream
 * of the whole body, the first block included.
 */
export async function requireTarContext(body: Readable, what = 'the build context', gzip = true): Promise<Readable> {
  const chunks: Buffer[] = [];
  let length = 0;
  const iterator = body[Symbol.asyncIterator]();
  while (length < BLOCK) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks);
  const problem = !gzip && head[0] === 0x1f && head[1] === 0x8b ? 'it is gzip-compressed; send a plain tar' : problemOfTarHead(head);
  if (problem) {
    body.resume(); // the rest is discarded, so the 400 reaches a client still sending
    throw new InvalidArgumentError(`${what} is not a tar archive: ${problem}`, { field: 'body' });
  }
  return Readable.from(
    (async function* () {
      yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value as Buffer;
    })(),
  );
}

/** Why these first bytes cannot start a (possibly gzip-compressed) tar archive; undefined when they can. */
export function problemOfTarHead(head: Buffer): string | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return undefined; // gzip: the builder checks the tar inside
  if (head.length === 0) return 'the body is empty';
  if (head.length < BLOCK) return `it is ${head.length} bytes long, shorter than one 512-byte tar block`;
  const block = head.subarray(0, BLOCK);
  if (block.every((b) => b === 0)) return undefined; // an empty archive starts with its end-of-archive block
  const recorded = Number.parseInt(block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (!Number.isInteger(recorded) || recorded !== sum) return 'its first 512-byte block has no valid tar header checksum';
  return undefined;
}
