/** What every route handler is given: the stores, the engine, the fault plan and the server's settings. */
import type { IncomingMessage } from 'node:http';
import type { BatchObject, ListPage } from '../../types.ts';
import type { EmulatorClock } from '../clock.ts';
import type { FaultPlan } from '../faults.ts';
import type { EmulatorLimits } from '../options.ts';
import type { EmulatorFileStore } from '../store/file-store.ts';
import type { UploadStore } from '../store/upload-store.ts';
import type { RouteReply } from './reply.ts';

/** The batch engine as the routes use it. */
export interface BatchApi {
  create(params: unknown): Promise<BatchObject>;
  retrieve(id: string): BatchObject;
  cancel(id: string): Promise<BatchObject>;
  list(query: { limit?: number; after?: string }): ListPage<BatchObject>;
}

export interface ServerContext {
  files: EmulatorFileStore;
  uploads: UploadStore;
  batches: BatchApi;
  faults: FaultPlan;
  clock: EmulatorClock;
  limits: EmulatorLimits;
  apiKey?: string;
  /** Sent as `openai-poll-after-ms` on every batch retrieve when set. */
  pollAfterMs?: number;
  /** Aborted when the emulator closes, ending slow replies. */
  signal: AbortSignal;
  /** Where unexpected errors are reported (never with request headers). */
  log?: (line: string) => void;
}

/** A route: the request, the path's captured parts and the query string, to a reply. */
export type Handler = (ctx: ServerContext, req: IncomingMessage, params: string[], query: URLSearchParams) => Promise<RouteReply>;
