/**
 * A multipart/form-data body built as an async iterable: the text fields and
 * the file part's headers, the file's bytes as they are read, the closing
 * boundary. Nothing is buffered whole, so a file of any size costs only the
 * reader's chunks; the SDK sends an async iterable as a streaming body.
 */
import { randomBytes } from 'node:crypto';

export interface FormFilePart {
  /** The form field: `file` for POST /v1/files, `data` for an upload part. */
  field: string;
  filename: string;
  contentType: string;
  /** The bytes; a throw here aborts the request before the closing boundary, so the server never takes the form. */
  content: AsyncIterable<Uint8Array>;
}

export interface MultipartBody {
  /** The Content-Type header, with its boundary. */
  contentType: string;
  body: AsyncIterable<Uint8Array>;
}

const CRLF = '\r\n';

/** Quotes a header parameter as browsers do in a form: `"`, CR and LF percent-encoded. */
function quoted(value: string): string {
  return `"${value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}"`;
}

/** The form with `fields` first, then the one file part. */
export function multipartBody(fields: Readonly<Record<string, string>>, file: FormFilePart): MultipartBody {
  // 32 hex digits of randomness: the chance that a shard's bytes contain the boundary line is nil.
  const boundary = `batchline-${randomBytes(16).toString('hex')}`;
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}${CRLF}Content-Disposition: form-data; name=${quoted(name)}${CRLF}${CRLF}${value}${CRLF}`;
  }
  head +=
    `--${boundary}${CRLF}Content-Disposition: form-data; name=${quoted(file.field)}; filename=${quoted(file.filename)}${CRLF}` +
    `Content-Type: ${file.contentType}${CRLF}${CRLF}`;
  const tail = `${CRLF}--${boundary}--${CRLF}`;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield Buffer.from(head, 'utf8');
    yield* file.content;
    yield Buffer.from(tail, 'utf8');
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: body() };
}
