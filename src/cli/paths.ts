/**
 * Inputs and outputs checked before a command starts its work, so that a
 * wrong path is one coded IoError naming it, not a system error after the
 * input has been read. Nothing is opened or created here: a FIFO (`<(cmd)`)
 * is not consumed, and a run that fails later leaves no empty directory.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { IoError } from '../errors.ts';
import { describeSystemCode, systemCode, systemReason } from '../io/system-error.ts';

/** The system's code of a failed call; EIO for an error that has none. */
function codeOf(err: unknown): string {
  return systemCode(err) ?? 'EIO';
}

/** The path's stat, or undefined when nothing is there (or a file stands where a directory of its path should). */
async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** An input file (not `-`) that exists, is not a directory and may be read: else INPUT_UNREADABLE. */
export async function checkInputFile(path: string): Promise<void> {
  if (path === '-') return;
  let failure: { code: string; why: string } | undefined;
  try {
    if ((await stat(path)).isDirectory()) failure = { code: 'EISDIR', why: describeSystemCode('EISDIR') };
    else await access(path, constants.R_OK);
  } catch (err) {
    failure = { code: codeOf(err), why: systemReason(err) };
  }
  if (failure) throw new IoError('INPUT_UNREADABLE', `cannot read ${path}: ${failure.why}`, { path, syscallCode: failure.code });
}

/**
 * An output file (`-o`, not `-`) that can be made: not a directory, in a
 * directory that exists and may be written (the file is written aside and
 * renamed into place). Else OUTPUT_NOT_WRITABLE.
 */
export async function checkOutputFile(path: string, flag: string): Promise<void> {
  if (path === '-') return;
  const fail = (code: string, why: string) =>
    new IoError('OUTPUT_NOT_WRITABLE', `cannot write ${flag} ${path}: ${why}`, { path, syscallCode: code });
  let existing;
  try {
    existing = await statOrUndefined(path);
  } catch (err) {
    throw fail(codeOf(err), systemReason(err));
  }
  if (existing?.isDirectory()) throw fail('EISDIR', 'it is a directory');
  const dir = dirname(resolve(path));
  let parent;
  try {
    parent = await statOrUndefined(dir);
  } catch (err) {
    throw fail(codeOf(err), systemReason(err));
  }
  if (!parent) throw fail('ENOENT', `its directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw fail('ENOTDIR', `${dir} is not a directory`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw fail(codeOf(err), `its directory ${dir}: ${systemReason(err)}`);
  }
}

/**
 * A directory flag (`--out-dir`, `--temp-dir`, `--state-dir`): a directory
 * that may be written, or (unless `mustExist`) a path that can be created
 * under the nearest directory that exists. A file in its place is
 * NOT_A_DIRECTORY; anything else in the way, OUTPUT_NOT_WRITABLE.
 */
export async function checkDirectory(path: string, flag: string, options: { mustExist?: boolean } = {}): Promise<void> {
  const notDirectory = (at: string) =>
    new IoError('NOT_A_DIRECTORY', `${flag} ${path}: ${at === resolve(path) ? 'it is a file' : `${at} is a file`}, not a directory`, {
      path,
      syscallCode: 'ENOTDIR',
    });
  const fail = (code: string, why: string) => new IoError('OUTPUT_NOT_WRITABLE', `cannot write to ${flag} ${path}: ${why}`, { path, syscallCode: code });
  // Up from the directory itself to the nearest part that exists: that one must be a directory we may write in.
  for (let at = resolve(path); ; at = dirname(at)) {
    let found;
    try {
      found = await statOrUndefined(at);
    } catch (err) {
      throw fail(codeOf(err), systemReason(err));
    }
    if (!found) {
      if (options.mustExist) throw new IoError('NOT_A_DIRECTORY', `${flag} ${path}: no such directory`, { path, syscallCode: 'ENOENT' });
      continue;
    }
    if (!found.isDirectory()) throw notDirectory(at);
    try {
      await access(at, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw fail(codeOf(err), `${at}: ${systemReason(err)}`);
    }
    return;
  }
}

/** SHARD_EXISTS before any work when `dir` already holds a shard file of this prefix (an earlier run's). */
export async function checkNoShards(dir: string, prefix: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const pattern = new RegExp(`^${prefix.replace(/[.]/g, '\\.')}-\\d{5}\\.jsonl$`);
  const earlier = names.filter((name) => pattern.test(name)).sort()[0];
  if (earlier !== undefined) {
    const path = resolve(dir, earlier);
    throw new IoError('SHARD_EXISTS', `${path} already exists: shard into an empty directory or use another --prefix`, {
      path,
      shard: Number(earlier.slice(prefix.length + 1, -'.jsonl'.length)),
    });
  }
}
