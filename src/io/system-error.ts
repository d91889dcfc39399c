/**
 * A system error's code and its reason in words, for IoError messages: the
 * code goes in `syscallCode`, so the message says why without repeating it
 * (never `EEXIST: EEXIST: …`), and the path goes in `path`.
 */
import { BatchlineError, IoError } from '../errors.ts';

const REASONS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is a file',
  EEXIST: 'already exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  ENOSPC: 'no space left on the device',
  EROFS: 'a read-only file system',
};

/** The error's system code (ENOENT, EACCES …), if it has one. */
export function systemCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Words for a system code: `does not exist` for ENOENT; the code itself when it has none here. */
export function describeSystemCode(code: string): string {
  return Object.hasOwn(REASONS, code) ? REASONS[code] : code;
}

/**
 * Why a file-system call failed, in words and without its code or path:
 * `does not exist`, or Node's own description (`i/o error`) for a code
 * without words here, or the message of an error that has no code.
 */
export function systemReason(err: unknown): string {
  const code = systemCode(err);
  if (code !== undefined && Object.hasOwn(REASONS, code)) return REASONS[code];
  let message = err instanceof Error ? err.message : String(err);
  if (code !== undefined && message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  // Node ends the message with the call and the path (`, open '/x'`): both are said elsewhere.
  const syscall = (err as NodeJS.ErrnoException | null)?.syscall;
  const at = typeof syscall === 'string' ? message.lastIndexOf(`, ${syscall}`) : -1;
  return at > 0 ? message.slice(0, at) : message;
}

/**
 * A raw file-system error (`EEXIST: file already exists, mkdir '…'`) as one
 * IO_FAILED IoError carrying its path and system code; anything else as it was.
 */
export function asIoFailure(err: unknown): unknown {
  const errno = err as NodeJS.ErrnoException | null;
  if (!(errno instanceof Error) || errno instanceof BatchlineError || typeof errno.code !== 'string' || typeof errno.syscall !== 'string') return err;
  const message = errno.message.startsWith(`${errno.code}: `) ? errno.message.slice(errno.code.length + 2) : errno.message;
  return new IoError('IO_FAILED', message, { path: errno.path, syscallCode: errno.code, cause: err });
}
