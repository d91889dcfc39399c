/**
 * `startEmulator()`: a local stand-in for the OpenAI Files, Uploads and
 * Batches API on 127.0.0.1, so `new OpenAI({ baseURL: handle.url + '/v1' })`
 * runs unchanged against it. Published as `batchline/emulator`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BatchEngine } from './batches/engine.ts';
import type { EmulatorClock } from './clock.ts';
import { FaultPlan } from './faults.ts';
import { createRequestHandler } from './http/server.ts';
import { normalizeEmulatorOptions, type EmulatorOptions } from './options.ts';
import type { EmulatorFileStore } from './store/file-store.ts';
import { createFileStore } from './store/open-file-store.ts';
import { UploadStore } from './store/upload-store.ts';

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
  const { host, port, limits, clock, seed, stateDir, log, engine, ...rest } = normalizeEmulatorOptions(options);
  const faults = new FaultPlan({ rate: rest.faultRate ?? 0, seed, kinds: rest.faultKinds });
  const files = await createFileStore({ clock, stateDir });
  const batches = new BatchEngine({ ...engine, store: files, clock, stateDir });
  let uploads: UploadStore | undefined;
  try {
    uploads = await UploadStore.open({ files, clock, limits, stateDir, log });
    await batches.init();
  } catch (err) {
    uploads?.close();
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
      pollAfterMs: rest.pollAfterMs,
      apiKey: rest.apiKey,
      log,
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

export { EmulatorClock } from './clock.ts';
export { EmulatorHttpError } from './http-error.ts';
export { FaultPlan, FAULT_KINDS } from './faults.ts';
export type { Fault, FaultKind, FaultRule, FaultMatch, InjectedFault, RandomFaults } from './faults.ts';
export { DEFAULT_LIMITS, type EmulatorOptions, type EmulatorLimits } from './options.ts';
export { BatchEngine, DEFAULT_BATCH_DURATION_MS, type BatchEngineOptions } from './batches/engine.ts';
export type { BatchCreationLimit, EngineSettings } from './batches/engine-options.ts';
export { BATCH_FAULT_KINDS, type BatchFault, type BatchFaultKind } from './batches/batch-faults.ts';
export type { FileStore, EmulatorFileStore, StagedBody, FileMeta } from './store/file-store.ts';
export { UploadStore, type UploadStoreOptions, type UploadLimits } from './store/upload-store.ts';
export type {
  BatchEndpoint,
  BatchErrorItem,
  BatchObject,
  BatchStatus,
  BatchUsage,
  FileObject,
  ListPage,
  UploadObject,
  UploadPartObject,
} from '../types.ts';
