/** The Uploads API routes: create, add a part (multipart field `data`, streamed into the part store), complete, cancel. */
import type { IncomingMessage } from 'node:http';
import { EmulatorHttpError } from '../http-error.ts';
import type { Handler, ServerContext } from './context.ts';
import { readMultipart } from './multipart.ts';
import { drain, readJson, type RouteReply } from './reply.ts';

export const createUpload: Handler = async (ctx, req) => ({ json: await ctx.uploads.create(await readJson(req, ctx.limits.maxJsonBytes)) });

export const completeUpload: Handler = async (ctx, req, [id]) => ({ json: await ctx.uploads.complete(id, await readJson(req, ctx.limits.maxJsonBytes)) });

export const cancelUpload: Handler = async (ctx, req, [id]) => {
  await drain(req);
  return { json: await ctx.uploads.cancel(id) };
};

export async function addUploadPart(ctx: ServerContext, req: IncomingMessage, [id]: string[]): Promise<RouteReply> {
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
