import { ValidationError } from '../errors.ts';
import type { ParsedLine } from '../types.ts';
import { DecodedLine } from './parsed-line.ts';

/**
 * How a request line is written out: its original text or bytes when it came
 * as JSONL, otherwise serialised once. `size` is its length in UTF-8 bytes.
 * An object that JSON cannot hold (a BigInt, a cycle, a throwing toJSON) is
 * INVALID_REQUEST with its line and custom_id.
 */
export function lineOutput(request: ParsedLine): { raw: Buffer | undefined; text: string | undefined; size: number } {
  if (request instanceof DecodedLine) {
    const text = request.exactText;
    if (text !== undefined) return { raw: undefined, text, size: request.byteLength };
  }
  const raw = request.bytes;
  if (raw !== undefined) return { raw, text: undefined, size: raw.length };
  let text: string | undefined;
  try {
    text = JSON.stringify(request.value);
  } catch (err) {
    throw notSerialisable(request, (err as Error).message, err);
  }
  if (typeof text !== 'string') throw notSerialisable(request, 'JSON.stringify gave nothing');
  return { raw: undefined, text, size: Buffer.byteLength(text) };
}

function notSerialisable(request: ParsedLine, why: string, cause?: unknown): ValidationError {
  const id = (request.value as { custom_id?: unknown } | null)?.custom_id;
  const customId = typeof id === 'string' ? id : undefined;
  return new ValidationError('INVALID_REQUEST', `the request on line ${request.line} cannot be written as JSON: ${why}`, {
    line: request.line,
    customId,
    cause,
  });
}
