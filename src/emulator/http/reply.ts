/**
 * Sending a reply, faithfully or with an injected response fault: cut short
 * and reset, cut short and closed cleanly (a truncated download), or
 * dribbled out slowly. Every reply carries its Content-Length, which is what
 * lets a client notice a cut.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmulatorHttpError } from '../http-error.ts';
import type { Fault } from '../faults.ts';

/** What a route answers: a JSON value, or a stream of known length. */
export type RouteReply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; stream: Readable; length: number; headers?: Record<string, string> };

export function errorReply(err: EmulatorHttpError): RouteReply {
  return { status: err.status, json: err.toBody(), headers: err.headers };
}

/** Sends the reply, applying a response fault when one was chosen. Never throws. */
export async function sendReply(res: ServerResponse, reply: RouteReply, fault: Fault | undefined, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string | number> = {
    'x-request-id': `req_${randomBytes(12).toString('hex')}`,
    ...reply.headers,
  };
  let body: Readable | Buffer;
  let length: number;
  if ('json' in reply) {
    body = Buffer.from(JSON.stringify(reply.json));
    length = body.length;
    headers['content-type'] = 'application/json';
  } else {
    body = reply.stream;
    length = reply.length;
    headers['content-type'] ??= 'application/octet-stream';
  }
  headers['content-length'] = length;
  res.writeHead(reply.status ?? 200, headers);
  try {
    if (!fault || fault.kind !== 'slow' && fault.kind !== 'truncate' && fault.kind !== 'reset-response') {
      if (Buffer.isBuffer(body)) res.end(body);
      else await pipeline(body, res);
      return;
    }
    await sendFaulty(res, Buffer.isBuffer(body) ? [body] : body, length, fault, signal);
  } catch {
    // The client went away or the emulator is closing; nothing is left to tell anyone.
    if (!Buffer.isBuffer(body)) body.destroy();
    res.destroy();
  }
}

async function sendFaulty(res: ServerResponse, body: AsyncIterable<Buffer> | Buffer[], length: number, fault: Fault, signal: AbortSignal): Promise<void> {
  const cut = fault.kind === 'slow' ? length : Math.floor(length * fault.fraction);
  const piece = fault.kind === 'slow' ? Math.max(1, fault.chunkBytes ?? Math.ceil(length / 10)) : Infinity;
  let sent = 0;
  outer: for await (const chunk of body) {
    for (let at = 0; at < chunk.length; ) {
      if (sent >= cut) break outer;
      const slice = chunk.subarray(at, Math.min(chunk.length, at + piece, at + (cut - sent)));
      at += slice.length;
      sent += slice.length;
      await write(res, slice);
      if (fault.kind === 'slow' && sent < length) await sleep(fault.delayMs, undefined, { signal });
    }
  }
  if (fault.kind === 'slow') {
    res.end();
    return;
  }
  const socket = res.socket;
  if (!socket) return;
  if (fault.kind === 'truncate') {
    // A clean close after fewer bytes than announced: the client sees a short body, not an error from TCP.
    socket.end();
  } else {
    socket.resetAndDestroy();
  }
}

function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(new Error('response closed'));
      return;
    }
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * The `reset-request` fault: read part of the request body, then reset the
 * connection before anything is done with it.
 */
export function resetMidRequest(req: IncomingMessage, fraction: number): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const hasBody = Number.isFinite(declared) ? declared > 0 : req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    req.socket.resetAndDestroy();
    return;
  }
  const stopAt = Number.isFinite(declared) ? Math.max(1, Math.floor(declared * fraction)) : 1;
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen >= stopAt && !req.socket.destroyed) req.socket.resetAndDestroy();
  });
  req.on('end', () => {
    if (!req.socket.destroyed) req.socket.resetAndDestroy();
  });
}

/** Reads and drops the request body, so a reply sent without it still reaches the client. */
export function drain(req: IncomingMessage): Promise<void> {
  if (req.complete) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('close', resolve);
    req.resume();
  });
}

/** Reads a small JSON body; larger than `maxBytes` is 413, unparsable is 400. An empty body is `{}`. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      await drain(req);
      throw new EmulatorHttpError(413, `The request body is larger than ${maxBytes} bytes.`, { code: 'request_too_large' });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new EmulatorHttpError(
      400,
      'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)',
      { code: null },
    );
  }
}

/** A whole-number query parameter within bounds; absent is undefined, anything else a 400 naming it. */
export function intParam(query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new EmulatorHttpError(400, `Invalid value for '${name}': expected a whole number from ${min} to ${max}.`, { param: name, code: 'invalid_value' });
  }
  return n;
}
