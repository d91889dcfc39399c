/**
 * An Upload's `complete`: the parts, in the order it names them, made into
 * one file, its md5 checked when the client sent one. On disk the parts
 * become the file's segments by hard links — the md5 still reads every byte,
 * but nothing is written twice; where a link cannot be made, and in memory,
 * the parts are streamed into a new body (in memory it shares their chunks).
 * A wrong md5 leaves no file behind.
 */
import { createHash } from 'node:crypto';
import type { FileObject } from '../../types.ts';
import { EmulatorHttpError } from '../http-error.ts';
import { DiskFileStore } from './disk-file-store.ts';
import type { EmulatorFileStore, FileMeta } from './file-store.ts';

/** What a file system says when it cannot hard-link: another device, no links at all, too many. */
const LINK_REFUSED = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

export interface Assembly {
  md5: string | undefined;
  meta: FileMeta;
  /** The parts' bytes in all, already checked against the Upload's `bytes`. */
  bytes: number;
}

/** Makes the file from `partIds` (ids in `parts`, in order) in `files`. */
export async function assembleFile(files: EmulatorFileStore, parts: EmulatorFileStore, partIds: string[], assembly: Assembly): Promise<FileObject> {
  if (files instanceof DiskFileStore && parts instanceof DiskFileStore && partIds.length > 0) {
    if (assembly.md5 !== undefined) await checkMd5(parts, partIds, assembly.md5);
    try {
      return await files.commitLinked(assembly.meta, partIds.map((id) => parts.bodyPath(id)), assembly.bytes);
    } catch (err) {
      if (!LINK_REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  return files.create(assembly.meta, concatenated(parts, partIds, assembly.md5));
}

async function checkMd5(parts: EmulatorFileStore, partIds: string[], md5: string): Promise<void> {
  const hash = createHash('md5');
  for (const id of partIds) for await (const chunk of parts.read(id) as AsyncIterable<Buffer>) hash.update(chunk);
  checkDigest(md5, hash.digest('hex'));
}

/** Streams the parts in order; throws after the last byte when the md5 differs, so the file store keeps nothing. */
async function* concatenated(parts: EmulatorFileStore, partIds: string[], md5: string | undefined): AsyncGenerator<Buffer> {
  const hash = createHash('md5');
  for (const id of partIds) {
    for await (const chunk of parts.read(id) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      yield chunk;
    }
  }
  if (md5 !== undefined) checkDigest(md5, hash.digest('hex'));
}

function checkDigest(md5: string, actual: string): void {
  if (md5.toLowerCase() !== actual) {
    throw new EmulatorHttpError(400, `The md5 checksum ${md5} does not match the uploaded bytes (${actual}).`, { param: 'md5', code: 'md5_mismatch' });
  }
}
