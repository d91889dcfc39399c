/** The Batches API routes: create, retrieve (with `openai-poll-after-ms` when configured), cancel and list. */
import type { IncomingMessage } from 'node:http';
import type { Handler, ServerContext } from './context.ts';
import { drain, intParam, readJson, type RouteReply } from './reply.ts';

export const createBatch: Handler = async (ctx, req) => ({ json: await ctx.batches.create(await readJson(req, ctx.limits.maxJsonBytes)) });

export const cancelBatch: Handler = async (ctx, req, [id]) => {
  await drain(req);
  return { json: await ctx.batches.cancel(id) };
};

export async function retrieveBatch(ctx: ServerContext, _req: IncomingMessage, [id]: string[]): Promise<RouteReply> {
  const batch = ctx.batches.retrieve(id);
  // Whether the live batches endpoint sends this header is unverified, so it comes only when asked for, and then always.
  const headers: Record<string, string> = ctx.pollAfterMs === undefined ? {} : { 'openai-poll-after-ms': String(ctx.pollAfterMs) };
  return { json: batch, headers };
}

export async function listBatches(ctx: ServerContext, _req: IncomingMessage, _params: string[], query: URLSearchParams): Promise<RouteReply> {
  const limit = intParam(query, 'limit', 1, 100);
  const after = query.get('after') ?? undefined;
  return { json: ctx.batches.list({ limit, after }) };
}
