import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { IoError, type ErrorCodeOf } from '../errors.ts';

/** Writes `text` to a file opened with `flag` ('wx': only if it does not exist yet) and syncs it before closing. */
export async function writeSynced(path: string, text: string, flag: 'w' | 'wx'): Promise<void> {
  const handle = await open(path, flag);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes JSON so that a reader, or a process restarted after a crash, finds
 * the old content or the new, never half of either: temp file, fsync,
 * rename, then fsync of the directory so the rename itself is durable.
 * Temp files end in `.tmp`; a failed write removes its own, and a loader
 * clears any a crash left behind.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeSynced(tmp, JSON.stringify(value), 'w');
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Reads a JSON record written by writeJsonAtomic. A file that is not JSON,
 * or not the record `isRecord` expects, is a coded error naming the file:
 * state is never half-loaded from a damaged file.
 */
export async function readJsonRecord<T>(path: string, code: ErrorCodeOf<'IoError'>, isRecord: (value: unknown) => boolean): Promise<T> {
  const text = await readFile(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new IoError(code, `state file ${path} is not valid JSON`, { path, cause: err });
  }
  if (!isRecord(value)) throw new IoError(code, `state file ${path} does not hold the record it should`, { path });
  return value as T;
}
