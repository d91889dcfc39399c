/**
 * multipart/form-data for the emulator's two upload routes, on busboy: the
 * one file part streams straight into a staged body (never held whole), the
 * small text fields are collected. Fields may come before or after the file
 * — the openai SDK sends `file` first — so the caller checks them only once
 * the whole form has arrived, and commits or discards the staged body then.
 */
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { EmulatorHttpError } from '../http-error.ts';

export interface MultipartOptions<T> {
  /** The field that carries the bytes: `file` for /v1/files, `data` for upload parts. */
  fileField: string;
  /** Writes the file part somewhere; the iterable throws to abort it. */
  stage: (content: AsyncIterable<Buffer>) => Promise<T>;
  /** Frees what `stage` made when the form turns out bad after all. */
  discard: (body: T) => Promise<void>;
}

export interface MultipartForm<T> {
  fields: Record<string, string>;
  file?: { body: T; filename: string; mimeType: string };
}

/** Text fields are small; anything larger is a malformed request, not data. */
const MAX_FIELD_BYTES = 64 * 1024;
const MAX_FIELDS = 32;

/**
 * Reads the whole form. Resolves once every part has arrived and the file
 * part is staged; on any error nothing stays staged. The rest of a request
 * whose file part failed is still read and dropped, so the reply reaches a
 * client that is still sending.
 */
export function readMultipart<T>(req: IncomingMessage, options: MultipartOptions<T>): Promise<MultipartForm<T>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fieldSize: MAX_FIELD_BYTES, fields: MAX_FIELDS } });
    } catch (err) {
      req.resume();
      reject(new EmulatorHttpError(400, `Expected a multipart/form-data body: ${(err as Error).message}`, { code: 'invalid_multipart' }));
      return;
    }
    const fields: Record<string, string> = {};
    let staging: Promise<T> | undefined;
    let info: { filename: string; mimeType: string } | undefined;
    let fileStream: NodeJS.ReadableStream & { destroy(err?: Error): void } | undefined;
    let failure: Error | undefined;

    parser.on('field', (name, value, fieldInfo) => {
      if (fieldInfo.valueTruncated) failure ??= new EmulatorHttpError(400, `Field ${JSON.stringify(name)} is too long.`, { param: name });
      else fields[name] = value;
    });
    parser.on('fieldsLimit', () => {
      failure ??= new EmulatorHttpError(400, `A form may carry at most ${MAX_FIELDS} fields.`);
    });
    parser.on('file', (name, stream, fileInfo) => {
      if (name !== options.fileField || staging) {
        stream.resume();
        return;
      }
      info = { filename: fileInfo.filename ?? '', mimeType: fileInfo.mimeType };
      fileStream = stream;
      // Not destroyed when staging stops early (too large, aborted): busboy would wait on it forever.
      // Drained instead, so the rest of the form is parsed and the reply can go out.
      staging = options.stage(stream.iterator({ destroyOnReturn: false }));
      staging.catch(() => stream.resume());
    });
    parser.on('error', (err: Error) => {
      failure ??= new EmulatorHttpError(400, `Malformed multipart body: ${err.message}`, { code: 'invalid_multipart' });
      req.unpipe(parser);
      req.resume();
      void finish();
    });
    parser.on('close', () => void finish());
    req.on('close', () => {
      if (!req.complete) {
        failure ??= new EmulatorHttpError(400, 'The request ended before its body was complete.', { code: 'incomplete_body' });
        // Staging must see the error too, or it would wait for bytes that never come.
        fileStream?.destroy(failure);
        parser.destroy(failure);
      }
    });

    let finished = false;
    async function finish(): Promise<void> {
      if (finished) return;
      finished = true;
      let body: T | undefined;
      try {
        body = staging ? await staging : undefined;
      } catch (err) {
        reject(failure ?? err);
        return;
      }
      if (failure) {
        if (staging) await options.discard(body as T).catch(() => {});
        reject(failure);
        return;
      }
      resolve({ fields, file: staging && info ? { body: body as T, ...info } : undefined });
    }

    req.pipe(parser);
  });
}
