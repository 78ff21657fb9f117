import type { LayerEntryType } from './layer-write';

// The ustar header and PAX records, byte for byte (POSIX.1-1988 / pax): what writeLayerTar emits.

export const BLOCK_SIZE = 512;

// ustar header field offsets and widths (POSIX.1-1988 / pax).
export const NAME = { offset: 0, width: 100 };
export const MODE = { offset: 100, width: 8 };
export const UID = { offset: 108, width: 8 };
export const GID = { offset: 116, width: 8 };
export const SIZE = { offset: 124, width: 12 };
export const MTIME = { offset: 136, width: 12 };
export const CHECKSUM = { offset: 148, width: 8 };
export const TYPEFLAG_OFFSET = 156;
export const LINKNAME = { offset: 157, width: 100 };
export const MAGIC_OFFSET = 257; // "ustar\0" then version "00"
export const DEVMAJOR = { offset: 329, width: 8 };
export const DEVMINOR = { offset: 337, width: 8 };
export const PREFIX = { offset: 345, width: 155 };

export const TYPEFLAG: Record<LayerEntryType | 'pax', string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
  pax: 'x',
};

export const MAX_OCTAL_8 = 0o7777777;
export const MAX_OCTAL_12 = 0o77777777777;

/** `"<length> <key>=<value>\n"`, where length counts the whole record including its own digits. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // space, '=', newline
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`, 'utf8'), value, Buffer.from('\n')]);
}

/** ustar stores up to 100 bytes of name plus a 155-byte prefix split at a `/`; undefined when PAX is needed. */
export function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= NAME.width) return { name, prefix: '' };
  // Directory names end in '/', so search for the split before that trailing slash.
  for (let i = name.length - 2; i > 0; i -= 1) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= PREFIX.width && rest.length <= NAME.width && rest.length > 0) return { name: rest, prefix };
    if (rest.length > NAME.width) return undefined;
  }
  return undefined;
}

export interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devMajor: number;
  devMinor: number;
}

export function ustarHeader(fields: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  block.write(fields.name, NAME.offset, NAME.width, 'ascii');
  writeOctal(block, MODE, fields.mode);
  writeOctal(block, UID, fields.uid);
  writeOctal(block, GID, fields.gid);
  writeOctal(block, SIZE, fields.size);
  writeOctal(block, MTIME, fields.mtime);
  block.write(fields.typeflag, TYPEFLAG_OFFSET, 1, 'ascii');
  block.write(fields.linkname, LINKNAME.offset, LINKNAME.width, 'ascii');
  block.write('ustar\x0000', MAGIC_OFFSET, 8, 'ascii');
  writeOctal(block, DEVMAJOR, fields.devMajor);
  writeOctal(block, DEVMINOR, fields.devMinor);
  block.write(fields.prefix, PREFIX.offset, PREFIX.width, 'ascii');

  block.fill(0x20, CHECKSUM.offset, CHECKSUM.offset + CHECKSUM.width);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, CHECKSUM.offset, CHECKSUM.width, 'ascii');
  return block;
}

export function writeOctal(block: Buffer, field: { offset: number; width: number }, value: number): void {
  block.write(`${Math.floor(value).toString(8).padStart(field.width - 1, '0')}\0`, field.offset, field.width, 'ascii');
}

export function isAscii(value: string): boolean {
  return /^[\x01-\x7f]*$/.test(value);
}

export function asciiTruncate(value: string, width: number): string {
  return value.replace(/[^\x01-\x7f]/g, '_').slice(0, width);
}
