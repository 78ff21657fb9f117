/**
 * Docker's stdcopy framing for non-TTY streams: `[stream][0 0 0][uint32 BE length]` + payload.
 * Stream 1 = stdout, 2 = stderr, 3 = system error (the client turns it into an error).
 */
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEM_ERROR = 3;

export function multiplexedFrame(stream: number, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(8 + payload.length);
  frame[0] = stream;
  frame.writeUInt32BE(payload.length, 4);
  frame.set(payload, 8);
  return frame;
}

/** Splits a multiplexed byte sequence back into frames (tests, and clients of this module). */
export function parseMultiplexed(bytes: Buffer): Array<{ stream: number; payload: Buffer }> {
  const frames: Array<{ stream: number; payload: Buffer }> = [];
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(offset + 4);
    if (offset + 8 + length > bytes.length) break;
    frames.push({ stream: bytes[offset], payload: bytes.subarray(offset + 8, offset + 8 + length) });
    offset += 8 + length;
  }
  return frames;
}

/** Writes output either raw (TTY) or framed, as the docker CLI expects for this stream. */
export function outputEncoder(tty: boolean) {
  return (stream: 'stdout' | 'stderr', data: Uint8Array): Uint8Array => (tty ? data : multiplexedFrame(stream === 'stdout' ? STDOUT : STDERR, data));
}

/** The hijack answer, byte for byte as dockerd writes it. */
export function upgradeHead(tty: boolean): string {
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  return `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`;
}
