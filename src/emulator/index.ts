/**
 * `startEmulator()`: a local stand-in for the OpenAI Files, Uploads and
 * Batches API on 127.0.0.1, so `new OpenAI({ baseURL: handle.url + '/v1' })`
 * runs unchanged against it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { OptionError } from '../errors.ts';
import { BatchEngine, DEFAULT_BATCH_DURATION_MS } from './batches.ts';
import { EmulatorClock } from './contracts.ts';
import { FaultPlan, type FaultKind } from './faults.ts';
import { createFileStore, type EmulatorFileStore } from './file-store.ts';
import { createRequestHandler, DEFAULT_LIMITS, type EmulatorLimits } from './server.ts';
import { UploadStore } from './uploads.ts';
import { wholeNumberOption } from '../core/options.ts';

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Only the loopback address: the emulator is never reachable from another machine. */
  host?: '127.0.0.1';
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** How long a valid batch takes from validating to completed, in real milliseconds (default 2000). */
  batchDurationMs?: number;
  /** Share of batch lines answered with a 4xx in the error file (default 0). */
  errorRate?: number;
  /** Enqueued tokens allowed per model (default unlimited). */
  tokenLimit?: number;
  /** Share of requests, 0 … 1, that get a random injected fault (default 0). */
  faultRate?: number;
  /** The fault kinds `faultRate` chooses from (default all). */
  faultKinds?: readonly FaultKind[];
  /** Keep files, uploads and batches here so they survive a restart (default: memory only). */
  stateDir?: string;
  /** Seeds every random choice: faults, error lines, shuffles. */
  seed?: number;
  /** Lower the service's size limits, so tests can cross them without sending 512 MB. */
  limits?: Partial<EmulatorLimits>;
  /** Emulator time; pass one to share it, or use `handle.clock.advance()`. */
  clock?: EmulatorClock;
  /** Where unexpected server errors are reported (default: nowhere). */
  log?: (line: string) => void;
}

export interface EmulatorHandle {
  /** `http://127.0.0.1:PORT`, without `/v1`. */
  url: string;
  port: number;
  clock: EmulatorClock;
  batches: BatchEngine;
  faults: FaultPlan;
  files: EmulatorFileStore;
  uploads: UploadStore;
  /** Ends every connection, timer and the batch engine. Safe to call more than once. */
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new OptionError('INVALID_OPTION', `the emulator binds to 127.0.0.1 only, got host ${JSON.stringify(host)}`);
  const port = wholeNumberOption(options.port, 'port', 0, 0, 65535);
  const limits: EmulatorLimits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [name, value] of Object.entries(limits)) wholeNumberOption(value, `limits.${name}`, 1);
  const clock = options.clock ?? new EmulatorClock();
  const batchDurationMs = options.batchDurationMs ?? DEFAULT_BATCH_DURATION_MS;
  const faults = new FaultPlan({ rate: options.faultRate ?? 0, seed: options.seed ?? 1, ...(options.faultKinds ? { kinds: options.faultKinds } : {}) });

  const files = await createFileStore({ clock, ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }) });
  const uploads = await UploadStore.open({
    files,
    clock,
    limits,
    ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  const batches = new BatchEngine({
    store: files,
    clock,
    ...(options.stateDir === undefined ? {} : { stateDir: options.stateDir }),
    batchDurationMs,
    ...(options.errorRate === undefined ? {} : { errorRate: options.errorRate }),
    ...(options.tokenLimit === undefined ? {} : { tokenLimit: options.tokenLimit }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  try {
    await batches.init();
  } catch (err) {
    uploads.close();
    await batches.close();
    throw err;
  }

  const closing = new AbortController();
  const server = createServer(
    // No overall request deadline: a local upload of several GB may take longer than Node's default 5 minutes.
    { keepAliveTimeout: 5_000, requestTimeout: 0 },
    createRequestHandler({
      files,
      uploads,
      batches,
      faults,
      clock,
      limits,
      signal: closing.signal,
      pollAfterMs: pollAfterMs(batchDurationMs),
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.log === undefined ? {} : { log: options.log }),
    }),
  );
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A client that resets mid-request is routine here (faults do it on purpose); it must not crash the process.
  server.on('clientError', (_err, socket) => socket.destroy());

  try {
    await listen(server, port, host);
  } catch (err) {
    uploads.close();
    await batches.close();
    throw err;
  }
  const actualPort = (server.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing.abort();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await stopped;
      uploads.close();
      await batches.close();
    })();
    return closed;
  };

  return { url: `http://${host}:${actualPort}`, port: actualPort, clock, batches, faults, files, uploads, close };
}

/** A tenth of a batch's run, within 50 ms … 2 s: a few polls per batch, none wasted in a tight loop. */
function pollAfterMs(batchDurationMs: number): number {
  return Math.min(2000, Math.max(50, Math.round(batchDurationMs / 10)));
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export { EmulatorClock, EmulatorHttpError } from './contracts.ts';
export type { FileStore } from './contracts.ts';
export { FaultPlan, FAULT_KINDS } from './faults.ts';
export type { FaultKind, FaultRule, FaultMatch, InjectedFault } from './faults.ts';
export type { EmulatorLimits } from './server.ts';
