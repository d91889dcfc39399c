/**
 * The emulator's HTTP face: auth, fault decisions, routing to the file
 * store, the uploads and the batch engine, and replies in the service's
 * shapes (`{"error": {message, type, param, code}}` on failure).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Fault } from '../faults.ts';
import { EmulatorHttpError } from '../http-error.ts';
import { cancelBatch, createBatch, listBatches, retrieveBatch } from './batches-routes.ts';
import type { Handler, ServerContext } from './context.ts';
import { createFile, deleteFile, fileContent, listFiles, retrieveFile } from './files-routes.ts';
import { drain, errorReply, resetMidRequest, sendReply, type RouteReply } from './reply.ts';
import { addUploadPart, cancelUpload, completeUpload, createUpload } from './uploads-routes.ts';

const routes: Array<[method: string, pattern: RegExp, handler: Handler]> = [
  ['POST', /^\/v1\/files$/, createFile],
  ['GET', /^\/v1\/files$/, listFiles],
  ['GET', /^\/v1\/files\/([^/]+)$/, retrieveFile],
  ['DELETE', /^\/v1\/files\/([^/]+)$/, deleteFile],
  ['GET', /^\/v1\/files\/([^/]+)\/content$/, fileContent],
  ['POST', /^\/v1\/uploads$/, createUpload],
  ['POST', /^\/v1\/uploads\/([^/]+)\/parts$/, addUploadPart],
  ['POST', /^\/v1\/uploads\/([^/]+)\/complete$/, completeUpload],
  ['POST', /^\/v1\/uploads\/([^/]+)\/cancel$/, cancelUpload],
  ['POST', /^\/v1\/batches$/, createBatch],
  ['GET', /^\/v1\/batches$/, listBatches],
  ['GET', /^\/v1\/batches\/([^/]+)$/, retrieveBatch],
  ['POST', /^\/v1\/batches\/([^/]+)\/cancel$/, cancelBatch],
];

/** The node:http request listener. */
export function createRequestHandler(ctx: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(ctx, req, res);
  };
}

async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  let fault: Fault | undefined;
  let reply: RouteReply;
  try {
    checkAuth(ctx.apiKey, req.headers.authorization);
    fault = ctx.faults.take(method, path);
    if (fault?.kind === 'reset-request') {
      resetMidRequest(req, fault.fraction);
      return;
    }
    if (fault && (fault.kind === '429' || fault.kind === '500' || fault.kind === '503')) {
      await drain(req);
      reply = errorReply(faultError(fault));
    } else {
      reply = await route(ctx, req, method, path, url.searchParams);
    }
  } catch (err) {
    if (!(err instanceof EmulatorHttpError)) ctx.log?.(`emulator: ${method} ${path} failed: ${(err as Error)?.stack ?? err}`);
    const httpError = err instanceof EmulatorHttpError ? err : new EmulatorHttpError(500, 'The server had an error while processing your request. Sorry about that!');
    await drain(req);
    reply = errorReply(httpError);
  }
  if (res.destroyed) {
    if ('stream' in reply) reply.stream.destroy();
    return;
  }
  await sendReply(res, reply, fault, ctx.signal);
}

function route(ctx: ServerContext, req: IncomingMessage, method: string, path: string, query: URLSearchParams): Promise<RouteReply> {
  for (const [routeMethod, pattern, handler] of routes) {
    if (routeMethod !== method) continue;
    const found = pattern.exec(path);
    if (found) return handler(ctx, req, found.slice(1).map(decodePathPart), query);
  }
  throw new EmulatorHttpError(404, `Invalid URL (${method} ${path})`);
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new EmulatorHttpError(400, `Malformed percent-encoding in the path: ${JSON.stringify(part)}`);
  }
}

function checkAuth(apiKey: string | undefined, header: string | undefined): void {
  if (apiKey === undefined) return;
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  // As the service answers: no key at all is a 401 with a null code, a wrong key one with `invalid_api_key`.
  if (!match) {
    throw new EmulatorHttpError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  // Compare digests so neither the length nor the content of the key leaks through timing.
  const given = createHash('sha256').update(match[1].trim()).digest();
  const wanted = createHash('sha256').update(apiKey).digest();
  if (!timingSafeEqual(given, wanted)) {
    throw new EmulatorHttpError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
  }
}

function faultError(fault: Fault): EmulatorHttpError {
  if (fault.kind === '429') {
    return new EmulatorHttpError(429, 'Rate limit reached for requests. Please try again later.', {
      type: 'requests',
      code: 'rate_limit_exceeded',
      headers: {
        'retry-after': String(Math.max(0, Math.ceil(fault.retryAfterSeconds))),
        'retry-after-ms': String(Math.round(fault.retryAfterSeconds * 1000)),
      },
    });
  }
  if (fault.kind === '503') {
    return new EmulatorHttpError(503, 'The engine is currently overloaded, please try again later.', { type: 'server_error' });
  }
  return new EmulatorHttpError(500, 'The server had an error while processing your request. Sorry about that!', { type: 'server_error' });
}
