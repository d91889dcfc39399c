/**
 * The emulator's HTTP face: auth, fault decisions, routing to the file
 * store, the uploads and the batch engine, and replies in the service's
 * shapes (`{"error": {message, type, param, code}}` on failure).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TERMINAL_BATCH_STATUSES } from '../types.ts';
import { EmulatorHttpError, type EmulatorClock } from './contracts.ts';
import type { Fault, FaultPlan } from './faults.ts';
import type { EmulatorFileStore } from './file-store.ts';
import { createFile, deleteFile, fileContent, listFiles, retrieveFile } from './files-api.ts';
import { readMultipart } from './multipart.ts';
import { drain, errorReply, intParam, readJson, resetMidRequest, sendReply, type RouteReply } from './reply.ts';
import type { UploadStore } from './uploads.ts';

/** The batch engine as the server uses it. */
export interface BatchApi {
  create(params: unknown): Promise<unknown>;
  retrieve(id: string): unknown;
  cancel(id: string): Promise<unknown>;
  list(query: { limit?: number; after?: string }): unknown;
}

export interface EmulatorLimits {
  /** Bytes per file sent to POST /v1/files; the service allows 512 MB. */
  maxFileBytes: number;
  /** Bytes per Upload part; the service allows 64 MB. */
  maxPartBytes: number;
  /** Bytes per Upload; the service allows 8 GB. */
  maxUploadBytes: number;
  /** Bytes of a JSON request body. */
  maxJsonBytes: number;
}

export const DEFAULT_LIMITS: EmulatorLimits = {
  maxFileBytes: 512 * 1024 * 1024,
  maxPartBytes: 64 * 1024 * 1024,
  maxUploadBytes: 8 * 1024 * 1024 * 1024,
  maxJsonBytes: 1024 * 1024,
};

export interface ServerContext {
  files: EmulatorFileStore;
  uploads: UploadStore;
  batches: BatchApi;
  faults: FaultPlan;
  clock: EmulatorClock;
  limits: EmulatorLimits;
  apiKey?: string;
  /** Sent as `openai-poll-after-ms` with a batch that is still running. */
  pollAfterMs?: number;
  /** Aborted when the emulator closes, ending slow replies. */
  signal: AbortSignal;
  /** Where unexpected errors are reported (never with request headers). */
  log?: (line: string) => void;
}

export type Handler = (ctx: ServerContext, req: IncomingMessage, params: string[], query: URLSearchParams) => Promise<RouteReply>;

const routes: Array<[method: string, pattern: RegExp, handler: Handler]> = [
  ['POST', /^\/v1\/files$/, createFile],
  ['GET', /^\/v1\/files$/, listFiles],
  ['GET', /^\/v1\/files\/([^/]+)$/, retrieveFile],
  ['DELETE', /^\/v1\/files\/([^/]+)$/, deleteFile],
  ['GET', /^\/v1\/files\/([^/]+)\/content$/, fileContent],
  ['POST', /^\/v1\/uploads$/, async (ctx, req) => ({ json: await ctx.uploads.create(await readJson(req, ctx.limits.maxJsonBytes)) })],
  ['POST', /^\/v1\/uploads\/([^/]+)\/parts$/, addUploadPart],
  ['POST', /^\/v1\/uploads\/([^/]+)\/complete$/, async (ctx, req, [id]) => ({ json: await ctx.uploads.complete(id, await readJson(req, ctx.limits.maxJsonBytes)) })],
  ['POST', /^\/v1\/uploads\/([^/]+)\/cancel$/, async (ctx, req, [id]) => (await drain(req), { json: await ctx.uploads.cancel(id) })],
  ['POST', /^\/v1\/batches$/, async (ctx, req) => ({ json: await ctx.batches.create(await readJson(req, ctx.limits.maxJsonBytes)) })],
  ['GET', /^\/v1\/batches$/, listBatches],
  ['GET', /^\/v1\/batches\/([^/]+)$/, retrieveBatch],
  ['POST', /^\/v1\/batches\/([^/]+)\/cancel$/, async (ctx, req, [id]) => (await drain(req), { json: await ctx.batches.cancel(id) })],
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
  if (!match) {
    throw new EmulatorHttpError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      { code: 'invalid_api_key' },
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

async function addUploadPart(ctx: ServerContext, req: IncomingMessage, [id]: string[]): Promise<RouteReply> {
  ctx.uploads.retrieve(id); // 404 before reading a body for an upload that does not exist
  // The upload store stages and caps the part's bytes as they stream in.
  const form = await readMultipart(req, {
    fileField: 'data',
    stage: (content) => ctx.uploads.addPart(id, content),
    // A part whose form went bad later is never reported, so no one can name it in `complete`; it goes with the upload.
    discard: async () => {},
  });
  if (!form.file) throw new EmulatorHttpError(400, "Missing required parameter: 'data'.", { param: 'data' });
  return { json: form.file.body };
}


async function retrieveBatch(ctx: ServerContext, _req: IncomingMessage, [id]: string[]): Promise<RouteReply> {
  const batch = ctx.batches.retrieve(id) as { status?: string };
  // Tells pollers how soon a change is worth looking for, scaled to the emulator's batch duration.
  const headers: Record<string, string> =
    ctx.pollAfterMs !== undefined && !TERMINAL_BATCH_STATUSES.has(batch.status ?? '') ? { 'openai-poll-after-ms': String(ctx.pollAfterMs) } : {};
  return { json: batch, headers };
}

async function listBatches(ctx: ServerContext, _req: IncomingMessage, _params: string[], query: URLSearchParams): Promise<RouteReply> {
  const limit = intParam(query, 'limit', 1, 100);
  const after = query.get('after') ?? undefined;
  return { json: ctx.batches.list({ ...(limit === undefined ? {} : { limit }), ...(after === undefined ? {} : { after }) }) };
}
