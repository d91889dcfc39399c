import { BatchlineError, type ErrorCode } from '../errors.ts';
import { asIoFailure } from '../io/system-error.ts';

/**
 * The error as a BatchlineError: a raw file-system error that escaped a
 * stage (`EEXIST: file already exists, mkdir '…'`) becomes one IO_FAILED
 * IoError carrying its path and system code, so neither is printed twice.
 */
export function toBatchlineError(err: unknown): BatchlineError | undefined {
  const coded = asIoFailure(err);
  return coded instanceof BatchlineError ? coded : undefined;
}

/** The code printed for an error that has none (a bug). */
const UNEXPECTED: ErrorCode = 'UNEXPECTED';

/** One line a person can read: the code, the message and where it happened. */
export function formatError(err: unknown): string {
  const coded = toBatchlineError(err);
  if (coded) {
    const where = Object.entries(coded.toJSON())
      .filter(([key]) => key !== 'code' && key !== 'message')
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(' ');
    return `batchline: ${coded.code}: ${coded.message}${where ? ` (${where})` : ''}`;
  }
  const code = (err as { code?: unknown })?.code;
  return `batchline: ${typeof code === 'string' ? code : UNEXPECTED}: ${(err as Error)?.message ?? String(err)}`;
}

/** The error as one JSON object for `--json`: `{"type": "error", "code", "message", "line"?, …}`. */
export function errorJson(err: unknown): Record<string, unknown> {
  const coded = toBatchlineError(err);
  if (coded) return { type: 'error', ...coded.toJSON() };
  const code = (err as { code?: unknown })?.code;
  return { type: 'error', code: typeof code === 'string' ? code : UNEXPECTED, message: (err as Error)?.message ?? String(err) };
}
