import { StringDecoder } from 'node:string_decoder';
import { maskSecrets, type Secret } from '../secret.js';

/**
 * Masks every credential value a launch has handed out, in any text. It learns new
 * values after each refresh and keeps the most recent `limit` of them. Internal.
 */
export interface Masker {
  /** Adds values to mask. */
  add(secrets: Iterable<Secret>): void;
  /** `text` with every known value replaced by `[redacted]`. */
  mask(text: string): string;
  /** The length of the longest known value. */
  readonly longest: number;
  /** The largest index up to `cut` that does not fall inside a known value in `text`. */
  safeCut(text: string, cut: number): number;
}

/** Makes a {@link Masker}. */
export function createMasker(limit = 64): Masker {
  // Insertion order is recency; `sorted` is longest first, so a value that contains
  // another is masked whole.
  const recent = new Map<string, Secret>();
  let sorted: Secret[] = [];
  let longest = 0;
  return {
    add(secrets) {
      for (const s of secrets) {
        const value = s.reveal();
        recent.delete(value);
        recent.set(value, s);
      }
      while (recent.size > limit) recent.delete(recent.keys().next().value as string);
      sorted = [...recent.values()].sort((a, b) => b.reveal().length - a.reveal().length);
      longest = sorted[0]?.reveal().length ?? 0;
    },
    mask: (text) => maskSecrets(text, sorted),
    get longest() {
      return longest;
    },
    safeCut(text, cut) {
      let at = cut;
      for (let moved = true; moved; ) {
        moved = false;
        for (const value of recent.keys()) {
          let i = text.indexOf(value, Math.max(0, at - value.length + 1));
          while (i !== -1 && i < at) {
            if (i + value.length > at) {
              at = i;
              moved = true;
              break;
            }
            i = text.indexOf(value, i + 1);
          }
        }
      }
      return at;
    },
  };
}

/** Splits a server's stderr into masked lines. Internal. */
export interface StderrLines {
  /** Feeds a chunk of stderr. */
  push(chunk: Buffer | string): void;
  /** Flushes what is left after the stream ended. */
  end(): void;
  /** The last lines seen (masked), oldest first. */
  tail(): string[];
}

/** Options of {@link splitStderr}. */
export interface SplitStderrOptions {
  masker: Masker;
  /** Gets each masked line. */
  onLine(line: string): void;
  /** How many lines {@link StderrLines.tail} keeps (default 20). */
  keep?: number;
  /** Longer lines are passed on in pieces of about this many characters (default 8192). */
  maxLineLength?: number;
}

/**
 * Turns stderr chunks into masked lines. A line longer than `maxLineLength` is passed
 * on in pieces, cut where no masked value can straddle the cut, so a token split
 * across chunks or pieces is never shown in part.
 */
export function splitStderr(options: SplitStderrOptions): StderrLines {
  const { masker, onLine } = options;
  const keep = options.keep ?? 20;
  const maxLineLength = options.maxLineLength ?? 8192;
  const decoder = new StringDecoder('utf8');
  const last: string[] = [];
  let buffer = '';

  const emit = (raw: string) => {
    const line = masker.mask(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    last.push(line);
    if (last.length > keep) last.shift();
    onLine(line);
  };

  const emitLongPiece = () => {
    // Keep back what could be the start of a value still arriving, and never cut
    // inside a value.
    const cut = masker.safeCut(buffer, buffer.length - Math.max(0, masker.longest - 1));
    if (cut <= 0) return;
    emit(buffer.slice(0, cut));
    buffer = buffer.slice(cut);
  };

  const drain = () => {
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      emit(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    if (buffer.length > maxLineLength) emitLongPiece();
  };

  return {
    push(chunk) {
      buffer += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      drain();
    },
    end() {
      buffer += decoder.end();
      drain();
      if (buffer.length > 0) emit(buffer);
      buffer = '';
    },
    tail: () => [...last],
  };
}
