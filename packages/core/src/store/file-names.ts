import { createHash } from 'node:crypto';

/**
 * How store keys become paths: each `/`-separated segment of a key is one path segment,
 * a directory for all but the last, which is a file `<segment>.json`. So the logins of a
 * provider (`credentials/<provider>/<account>`) share one directory, and `list()` of a
 * provider reads that directory alone.
 *
 * A segment keeps the characters `a-z 0-9 - _` and writes every other byte of its UTF-8
 * form as `%` and two lower-case hex digits. Names then differ on file systems that
 * ignore case (macOS, Windows), never start with a dot, and never collide with a name
 * Windows reserves (the first letter of `con`, `nul`, `com1`... is escaped). An empty
 * segment is `=`. A segment that would be longer than {@link MAX_SEGMENT} is
 * `~<sha256>`; the file then names its key inside, and `list()` reads it from there.
 */
const KEPT = /^[a-z0-9_-]$/;
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;
const MAX_SEGMENT = 160;
/** The extension of a key's file. */
export const KEY_FILE_EXTENSION = '.json';
/** The first character of a segment written as a digest. */
export const HASHED_PREFIX = '~';

function escapeByte(byte: number): string {
  return `%${byte.toString(16).padStart(2, '0')}`;
}

/** One segment of a key as a file or directory name. */
export function encodeSegment(segment: string): string {
  if (segment === '') return '=';
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += KEPT.test(char) ? char : escapeByte(byte);
  }
  if (RESERVED.test(out)) out = escapeByte(out.charCodeAt(0)) + out.slice(1);
  if (out.length > MAX_SEGMENT) {
    out = `${HASHED_PREFIX}${createHash('sha256').update(segment, 'utf8').digest('hex')}`;
  }
  return out;
}

/** A name written by {@link encodeSegment} back as the segment, or `undefined` for a digest or a foreign name. */
export function decodeSegment(name: string): string | undefined {
  if (name === '=') return '';
  if (name.startsWith(HASHED_PREFIX) || !/^(?:[a-z0-9_-]|%[0-9a-f]{2})+$/.test(name)) {
    return undefined;
  }
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

/** The path segments of a key: directories, then the file. */
export function keyPath(key: string): string[] {
  const segments = key.split('/').map(encodeSegment);
  const last = segments.length - 1;
  segments[last] = `${segments[last]}${KEY_FILE_EXTENSION}`;
  return segments;
}
