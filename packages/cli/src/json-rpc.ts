/**
 * JSON-RPC 2.0 messages as MCP's stdio transport carries them: one JSON object per line,
 * UTF-8, no embedded newlines.
 *
 * @see https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#stdio
 * @see https://www.jsonrpc.org/specification
 */

/** A request or notification id. */
export type MessageId = string | number;

/** Any JSON-RPC message, as parsed. */
export interface Message {
  jsonrpc: '2.0';
  id?: MessageId | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** A message with a method and an id: it expects an answer. */
export interface Request extends Message {
  id: MessageId;
  method: string;
}

/** Standard error codes (JSON-RPC 2.0 §5.1). */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INTERNAL_ERROR = -32603;

export function isRequest(message: Message): message is Request {
  return typeof message.method === 'string' && message.id !== undefined && message.id !== null;
}

export function isNotification(message: Message): boolean {
  return typeof message.method === 'string' && message.id === undefined;
}

export function isResponse(message: Message): boolean {
  return message.method === undefined && ('result' in message || 'error' in message);
}

/** The outcome of reading one line: a message, or the error to answer it with. */
export type Parsed =
  | { ok: true; message: Message }
  | { ok: false; id: MessageId | null; code: number; reason: string };

function validId(id: unknown): id is MessageId | null | undefined {
  return (
    id === undefined ||
    id === null ||
    typeof id === 'string' ||
    (typeof id === 'number' && Number.isFinite(id))
  );
}

/**
 * The line each parsed message came from: relayed unchanged, a message is written as it
 * arrived, without serializing it again. Messages are never mutated, only copied.
 */
const lines = new WeakMap<Message, string>();

/** Parses one line; anything that is not a JSON-RPC 2.0 message comes back as the error to send. */
export function parseLine(line: string): Parsed {
  const parsed = parseMessage(line);
  if (parsed.ok) lines.set(parsed.message, line);
  return parsed;
}

/** The answer to a line that is JSON but no JSON-RPC message. */
function invalid(id: MessageId | null, reason: string): Parsed {
  return { ok: false, id, code: INVALID_REQUEST, reason: `Invalid Request: ${reason}` };
}

function parseMessage(line: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, code: PARSE_ERROR, reason: 'Parse error: the line is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid(
      null,
      Array.isArray(value) ? 'MCP does not take JSON-RPC batches' : 'not a JSON-RPC object',
    );
  }
  const m = value as Record<string, unknown>;
  const id = validId(m.id) ? (m.id ?? null) : null;
  if (m.jsonrpc !== '2.0') return invalid(id, '"jsonrpc" must be "2.0"');
  if (!validId(m.id)) return invalid(null, 'bad "id"');
  if (m.method !== undefined) {
    if (typeof m.method !== 'string' || m.method === '') {
      return invalid(id, '"method" must be a string');
    }
    if (m.params !== undefined && (typeof m.params !== 'object' || m.params === null)) {
      return invalid(id, '"params" must be an object or array');
    }
    return { ok: true, message: m as unknown as Message };
  }
  if (m.id === undefined || m.id === null ? !('error' in m) : !('result' in m || 'error' in m)) {
    return invalid(id, 'neither a request nor a response');
  }
  return { ok: true, message: m as unknown as Message };
}

/** An error answer to `id`. */
export function errorResponse(
  id: MessageId | null,
  code: number,
  message: string,
  data?: unknown,
): Message {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined ? { data } : {}) } };
}

/** A message as one line of the stdio transport: the line it came from, if it was parsed. */
export function serialize(message: Message): string {
  return `${lines.get(message) ?? JSON.stringify(message)}\n`;
}

/**
 * Splits a byte stream into lines, keeping a partial line until its end arrives. A line
 * longer than `maxLineBytes` is dropped whole and reported once it ends.
 */
export function lineSplitter(
  onLine: (line: string) => void,
  onOversized: () => void,
  maxLineBytes = 64 * 1024 * 1024,
): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let oversized = false;
  return (chunk) => {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0x0a, start);
      if (end === -1) {
        const rest = chunk.subarray(start);
        if (!oversized) {
          pendingBytes += rest.length;
          if (pendingBytes > maxLineBytes) {
            oversized = true;
            pending = [];
          } else pending.push(rest);
        }
        return;
      }
      const piece = chunk.subarray(start, end);
      if (oversized) {
        oversized = false;
        onOversized();
      } else {
        const line = Buffer.concat([...pending, piece])
          .toString('utf8')
          .replace(/\r$/, '');
        if (line.trim() !== '') onLine(line);
      }
      pending = [];
      pendingBytes = 0;
      start = end + 1;
    }
  };
}
