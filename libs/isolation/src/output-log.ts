/**
 * The records the helper appends to `<dir>/output.log` (native/output-log.c): a 16-byte header —
 * stream (1 stdout, 2 stderr), three zero bytes, payload length (uint32 LE), the time of the read
 * in nanoseconds since the epoch (uint64 LE) — then the bytes exactly as the workload wrote them.
 */
export const OUTPUT_LOG_FILE = 'output.log';
export const OUTPUT_RECORD_HEADER_BYTES = 16;
/** The helper reads at most this much at once, so no valid record is longer. */
export const OUTPUT_RECORD_MAX_PAYLOAD = 65536;

export interface OutputRecord {
  stream: 'stdout' | 'stderr';
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  data: Buffer;
}

/**
 * Splits `buffer` into whole records; `consumed` is where the first incomplete one begins (a
 * record still being written). `corrupt` is set when a header makes no sense: the rest of the
 * file cannot be trusted and should be skipped.
 */
export function parseOutputRecords(buffer: Buffer): { records: OutputRecord[]; consumed: number; corrupt: boolean } {
  const records: OutputRecord[] = [];
  let offset = 0;
  while (buffer.length - offset >= OUTPUT_RECORD_HEADER_BYTES) {
    const stream = buffer[offset];
    const length = buffer.readUInt32LE(offset + 4);
    if ((stream !== 1 && stream !== 2) || length > OUTPUT_RECORD_MAX_PAYLOAD) return { records, consumed: offset, corrupt: true };
    const end = offset + OUTPUT_RECORD_HEADER_BYTES + length;
    if (end > buffer.length) break;
    records.push({
      stream: stream === 1 ? 'stdout' : 'stderr',
      timeNs: buffer.readBigUInt64LE(offset + 8),
      data: buffer.subarray(offset + OUTPUT_RECORD_HEADER_BYTES, end),
    });
    offset = end;
  }
  return { records, consumed: offset, corrupt: false };
}

/** One record in the helper's format (for tests and tools that write logs the agent reads). */
export function encodeOutputRecord(stream: 'stdout' | 'stderr', data: Buffer, timeNs = BigInt(Date.now()) * 1_000_000n): Buffer {
  const header = Buffer.alloc(OUTPUT_RECORD_HEADER_BYTES);
  header[0] = stream === 'stdout' ? 1 : 2;
  header.writeUInt32LE(data.length, 4);
  header.writeBigUInt64LE(timeNs, 8);
  return Buffer.concat([header, data]);
}

/** ISO 8601 with milliseconds, as the rest of the platform writes times. */
export function isoOfNs(timeNs: bigint): string {
  return new Date(Number(timeNs / 1_000_000n)).toISOString();
}
