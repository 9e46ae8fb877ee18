// The stderr splitter: masked lines, whatever the chunking, and long lines cut where no
// token can be shown in part.
import { describe, expect, it } from 'vitest';
import { Secret } from '../src/index.js';
import { createMasker, splitStderr } from '../src/launch/stderr-masking.js';

function run(chunks: string[], secrets: string[], maxLineLength?: number): string[] {
  const masker = createMasker();
  masker.add(secrets.map((s) => new Secret(s)));
  const lines: string[] = [];
  const split = splitStderr({
    masker,
    onLine: (line) => lines.push(line),
    ...(maxLineLength !== undefined ? { maxLineLength } : {}),
  });
  for (const chunk of chunks) split.push(Buffer.from(chunk));
  split.end();
  return lines;
}

describe('stderr masking', () => {
  const token = 'tok_abcdefghijklmnopqrstuvwxyz';

  it('masks a token split across every possible chunk boundary', () => {
    const text = `using ${token} now\nsecond line\n`;
    for (let cut = 1; cut < text.length; cut += 1) {
      const lines = run([text.slice(0, cut), text.slice(cut)], [token]);
      expect(lines).toEqual(['using [redacted] now', 'second line']);
    }
  });

  it('passes long lines on in pieces without ever showing part of a token', () => {
    const line = `${'x'.repeat(50)}${token}${'y'.repeat(50)}${token}`;
    for (let size = 1; size < 20; size += 1) {
      const chunks: string[] = [];
      for (let i = 0; i < line.length; i += size) chunks.push(line.slice(i, i + size));
      const pieces = run(chunks, [token], 40);
      const joined = pieces.join('');
      expect(joined).toBe(`${'x'.repeat(50)}[redacted]${'y'.repeat(50)}[redacted]`);
      for (const piece of pieces) {
        for (let n = 6; n < token.length; n += 1) {
          expect(piece.endsWith(token.slice(0, n))).toBe(false);
          expect(piece.startsWith(token.slice(-n))).toBe(false);
        }
      }
    }
  });

  it('masks the longest value first, handles CRLF and multi-byte characters', () => {
    const long = `${token}-and-more`;
    expect(run([`a ${long} b ${token}\r\n`], [token, long])).toEqual(['a [redacted] b [redacted]']);
    const bytes = Buffer.from('é ok\n');
    const masker = createMasker();
    const lines: string[] = [];
    const split = splitStderr({ masker, onLine: (l) => lines.push(l) });
    split.push(bytes.subarray(0, 1));
    split.push(bytes.subarray(1));
    split.end();
    expect(lines).toEqual(['é ok']);
  });

  it('keeps the last lines for error messages', () => {
    const masker = createMasker();
    const split = splitStderr({ masker, onLine: () => {}, keep: 2 });
    split.push('one\ntwo\nthree\n');
    expect(split.tail()).toEqual(['two', 'three']);
  });
});
