import { isLatchkeyError } from '@latchkey/core';

/** Lines for people, on stderr: a spinner while waiting on a terminal, plain lines otherwise. */
export interface Reporter {
  /** Shows what is under way (a spinner on a terminal). */
  progress(text: string): void;
  /** A line that stays. */
  line(text: string): void;
  /** Ends the progress with a success line. */
  done(text: string): void;
  /** An error with its code and what to do. */
  error(error: unknown): void;
  /** Stops the spinner without a line. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createReporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  const tty = stream.isTTY === true && process.env.TERM !== 'dumb';
  let timer: NodeJS.Timeout | undefined;
  let text = '';
  let frame = 0;
  let lastPlain = '';
  const clear = () => {
    if (timer) stream.write('\r\x1b[2K');
  };
  const draw = () => {
    stream.write(`\r\x1b[2K${FRAMES[frame % FRAMES.length]} ${text}`);
    frame += 1;
  };
  const stop = () => {
    clear();
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const write = (line: string) => {
    clear();
    stream.write(`${line}\n`);
    if (timer) draw();
  };
  return {
    progress(next) {
      text = next;
      if (!tty) {
        if (next !== lastPlain) stream.write(`${next}\n`);
        lastPlain = next;
        return;
      }
      if (!timer) {
        timer = setInterval(draw, 80);
        timer.unref();
      }
      draw();
    },
    line: write,
    done(message) {
      stop();
      stream.write(`${tty ? '✔' : 'OK:'} ${message}\n`);
    },
    error(error) {
      stop();
      stream.write(`${formatError(error)}\n`);
    },
    stop,
  };
}

/** `latchkey: error CODE: message`, the cause's message too; never a stack. */
export function formatError(error: unknown): string {
  if (isLatchkeyError(error)) return `latchkey: error ${error.code}: ${error.message}`;
  if (error instanceof Error) return `latchkey: error: ${error.message}`;
  return `latchkey: error: ${String(error)}`;
}
