/**
 * The Files API routes: upload (multipart, streamed into the store, checked
 * once the whole form is in), retrieve, list, download and delete.
 */
import type { IncomingMessage } from 'node:http';
import type { FileObject } from '../../types.ts';
import { EmulatorHttpError } from '../http-error.ts';
import { fileNotFound, fileTtlSeconds, isJsonlFileName } from '../store/file-store.ts';
import { limitBytes } from '../store/limit-bytes.ts';
import type { Handler, ServerContext } from './context.ts';
import { readMultipart } from './multipart.ts';
import { drain, intParam, type RouteReply } from './reply.ts';

export const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;

export const retrieveFile: Handler = async (ctx, _req, [id]) => ({ json: requireFile(ctx, id) });

function requireFile(ctx: ServerContext, id: string): FileObject {
  const file = ctx.files.get(id);
  if (!file) throw fileNotFound(id);
  return file;
}

export async function createFile(ctx: ServerContext, req: IncomingMessage): Promise<RouteReply> {
  const maxBytes = ctx.limits.maxFileBytes;
  const form = await readMultipart(req, {
    fileField: 'file',
    stage: (content) =>
      ctx.files.stage(
        limitBytes(content, maxBytes, () => new EmulatorHttpError(413, `File is larger than the ${maxBytes}-byte limit.`, { param: 'file', code: 'file_too_large' })),
      ),
    discard: (body) => ctx.files.discard(body),
  });
  const file = form.file;
  try {
    if (!file) throw new EmulatorHttpError(400, "Missing required parameter: 'file'.", { param: 'file' });
    const purpose = form.fields.purpose;
    if (purpose === undefined) throw new EmulatorHttpError(400, "Missing required parameter: 'purpose'.", { param: 'purpose' });
    if (!(FILE_PURPOSES as readonly string[]).includes(purpose)) {
      throw new EmulatorHttpError(400, `Invalid value for 'purpose': ${JSON.stringify(purpose)}; expected one of ${FILE_PURPOSES.join(', ')}.`, {
        param: 'purpose',
        code: 'invalid_value',
      });
    }
    const filename = file.filename || 'upload';
    if ((purpose === 'batch' || purpose === 'fine-tune') && !isJsonlFileName(filename)) {
      throw new EmulatorHttpError(400, `Invalid file format for ${purpose === 'batch' ? 'Batch API' : 'fine-tuning'}. Must be .jsonl`, {
        param: 'file',
        code: 'invalid_file_format',
      });
    }
    if (file.body.bytes === 0) throw new EmulatorHttpError(400, 'File is empty.', { param: 'file', code: 'empty_file' });
    const ttl = fileTtlSeconds(purpose, expiresAfterField(form.fields));
    const created = await ctx.files.commit(file.body, {
      filename,
      purpose,
      expiresAfterSeconds: ttl,
    });
    return { json: created };
  } catch (err) {
    if (file) await ctx.files.discard(file.body);
    throw err;
  }
}

/** `expires_after[anchor]` / `expires_after[seconds]`, as form encoders spell a nested object. */
function expiresAfterField(fields: Record<string, string>): { anchor: string | undefined; seconds: number } | undefined {
  const anchor = fields['expires_after[anchor]'];
  const seconds = fields['expires_after[seconds]'];
  if (anchor === undefined && seconds === undefined) return undefined;
  return { anchor, seconds: seconds === undefined || seconds.trim() === '' ? NaN : Number(seconds) };
}

export async function listFiles(ctx: ServerContext, _req: IncomingMessage, _params: string[], query: URLSearchParams): Promise<RouteReply> {
  const limit = intParam(query, 'limit', 1, 10_000) ?? 10_000;
  const order = query.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw new EmulatorHttpError(400, "Invalid value for 'order': expected 'asc' or 'desc'.", { param: 'order', code: 'invalid_value' });
  }
  const purpose = query.get('purpose');
  // list() is in creation order; a stable sort keeps that order among files made in the same second.
  let files = ctx.files.list().filter((file) => purpose === null || file.purpose === purpose);
  files = order === 'asc' ? files : files.reverse();
  const after = query.get('after');
  if (after !== null) {
    const at = files.findIndex((file) => file.id === after);
    if (at < 0) throw new EmulatorHttpError(400, `No such File object: ${after} (the 'after' cursor).`, { param: 'after' });
    files = files.slice(at + 1);
  }
  const page = files.slice(0, limit);
  return {
    json: {
      object: 'list',
      data: page,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: files.length > page.length,
    },
  };
}

export async function deleteFile(ctx: ServerContext, req: IncomingMessage, [id]: string[]): Promise<RouteReply> {
  await drain(req);
  requireFile(ctx, id);
  await ctx.files.delete(id);
  return { json: { id, object: 'file', deleted: true } };
}

export async function fileContent(ctx: ServerContext, _req: IncomingMessage, [id]: string[]): Promise<RouteReply> {
  const file = requireFile(ctx, id);
  const filename = file.filename.replace(/["\\\r\n]/g, '_');
  return {
    stream: ctx.files.read(id),
    length: file.bytes,
    headers: { 'content-disposition': `attachment; filename="${filename}"` },
  };
}
