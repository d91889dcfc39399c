/**
 * The batch object as the API shows it, the create parameters as the service
 * checks them, and the records the engine keeps on disk with `stateDir`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { BatchlineError } from '../errors.ts';
import { SUPPORTED_ENDPOINTS, type BatchEndpoint } from '../types.ts';
import { EmulatorHttpError, type FileStore } from './contracts.ts';
import type { BatchErrorItem } from './input-check.ts';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The Batch object of the OpenAPI spec; absent values are null, as the live API sends them. */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: BatchEndpoint;
  model: string | null;
  errors: { object: 'list'; data: BatchErrorItem[] } | null;
  input_file_id: string;
  completion_window: '24h';
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: BatchUsage;
  metadata: Record<string, string> | null;
}

/** What the engine persists per batch: the object plus the timeline it runs on (emulator milliseconds). */
export interface BatchRecord {
  batch: BatchObject;
  /** Creation order, so listing stays newest-first after a restart even within one second. */
  seq: number;
  createdMs: number;
  runStartMs: number | null;
  finalizeStartMs: number | null;
  stopMs: number | null;
  /** Lines finished when a cancel or expiry stopped the run; null while running. */
  doneAtStop: number | null;
  /** Set once an expiry has been decided; the status follows when the partial files are written. */
  expiring: boolean;
  outputExpiresAfterSeconds: number | null;
  inputTokens: number;
}

export const TERMINAL_STATUSES: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);
export const COMPLETION_WINDOW_SECONDS = 86_400;

export interface CreateParams {
  inputFileId: string;
  endpoint: BatchEndpoint;
  metadata: Record<string, string> | null;
  outputExpiresAfterSeconds: number | null;
}

const KNOWN_PARAMS = new Set(['input_file_id', 'endpoint', 'completion_window', 'metadata', 'output_expires_after']);

function badRequest(message: string, param: string | null, code: string | null = 'invalid_value'): EmulatorHttpError {
  return new EmulatorHttpError(400, message, { param, code });
}

/** Checks POST /v1/batches parameters as the service does; every problem is a 400 naming its param. */
export function parseCreateParams(params: unknown, store: FileStore): CreateParams {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw badRequest('The request body must be a JSON object.', null, 'invalid_request_body');
  }
  const body = params as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!KNOWN_PARAMS.has(key)) throw badRequest(`Unrecognized request argument supplied: ${key}`, key, 'unknown_parameter');
  }
  for (const key of ['input_file_id', 'endpoint', 'completion_window'] as const) {
    if (body[key] === undefined || body[key] === null) {
      throw badRequest(`Missing required parameter: '${key}'.`, key, 'missing_required_parameter');
    }
    if (typeof body[key] !== 'string') throw badRequest(`Invalid type for '${key}': expected a string.`, key, 'invalid_type');
  }
  const inputFileId = body.input_file_id as string;
  const file = store.get(inputFileId);
  if (!file) throw badRequest(`No such File object: ${inputFileId}`, 'input_file_id', 'invalid_file');
  if (file.purpose !== 'batch') {
    throw badRequest(`The input file ${inputFileId} has purpose '${file.purpose}'; batch input files must be uploaded with purpose 'batch'.`, 'input_file_id', 'invalid_file');
  }
  const endpoint = body.endpoint as string;
  if (!(SUPPORTED_ENDPOINTS as readonly string[]).includes(endpoint)) {
    throw badRequest(`Invalid value for 'endpoint': ${JSON.stringify(endpoint)}. Supported values are: ${SUPPORTED_ENDPOINTS.join(', ')}.`, 'endpoint');
  }
  if (body.completion_window !== '24h') {
    throw badRequest(`Invalid value for 'completion_window': ${JSON.stringify(body.completion_window)}. Supported values are: '24h'.`, 'completion_window');
  }
  return {
    inputFileId,
    endpoint: endpoint as BatchEndpoint,
    metadata: parseMetadata(body.metadata),
    outputExpiresAfterSeconds: parseOutputExpiresAfter(body.output_expires_after),
  };
}

function parseMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest("Invalid type for 'metadata': expected an object.", 'metadata', 'invalid_type');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 16) throw badRequest(`Invalid 'metadata': at most 16 key-value pairs, got ${entries.length}.`, 'metadata');
  for (const [key, item] of entries) {
    if (key.length > 64) throw badRequest(`Invalid 'metadata': key ${JSON.stringify(key.slice(0, 20))}… is longer than 64 characters.`, 'metadata');
    if (typeof item !== 'string') throw badRequest(`Invalid type for 'metadata.${key}': expected a string.`, `metadata.${key}`, 'invalid_type');
    if (item.length > 512) throw badRequest(`Invalid 'metadata.${key}': the value is longer than 512 characters.`, `metadata.${key}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function parseOutputExpiresAfter(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest("Invalid type for 'output_expires_after': expected an object.", 'output_expires_after', 'invalid_type');
  }
  const { anchor, seconds } = value as Record<string, unknown>;
  if (anchor !== 'created_at') throw badRequest("Invalid value for 'output_expires_after.anchor': only 'created_at' is supported.", 'output_expires_after.anchor');
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
    throw badRequest("Invalid value for 'output_expires_after.seconds': an integer from 3600 to 2592000.", 'output_expires_after.seconds');
  }
  return seconds;
}

export function newBatchId(): string {
  return `batch_${randomBytes(16).toString('hex')}`;
}

export function emptyUsage(): BatchUsage {
  return { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
}

export function newBatchObject(id: string, params: CreateParams, createdAt: number): BatchObject {
  return {
    id,
    object: 'batch',
    endpoint: params.endpoint,
    model: null,
    errors: null,
    input_file_id: params.inputFileId,
    completion_window: '24h',
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: createdAt,
    in_progress_at: null,
    expires_at: createdAt + COMPLETION_WINDOW_SECONDS,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    usage: emptyUsage(),
    metadata: params.metadata,
  };
}

/** Batch records under `<stateDir>/batches`, one JSON file each, replaced atomically. */
export class BatchStateDir {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'batches');
  }

  /** Writes to a temp file, fsyncs, then renames, so a crash leaves the old record or the new one. */
  async save(record: BatchRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = path.join(this.dir, `${record.batch.id}.json`);
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  }

  async loadAll(): Promise<BatchRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: BatchRecord[] = [];
    for (const name of names) {
      const full = path.join(this.dir, name);
      // A temp file is a write that never reached its rename: the record it meant to replace is still there.
      if (name.endsWith('.tmp')) {
        await rm(full, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const text = await readFile(full, 'utf8');
      let record: BatchRecord;
      try {
        record = JSON.parse(text) as BatchRecord;
      } catch (err) {
        throw new BatchlineError('EMULATOR_STATE_CORRUPT', `batch state file ${full} is not valid JSON`, { cause: err });
      }
      if (!record?.batch?.id || typeof record.seq !== 'number') {
        throw new BatchlineError('EMULATOR_STATE_CORRUPT', `batch state file ${full} does not hold a batch record`);
      }
      records.push(record);
    }
    return records.sort((a, b) => a.seq - b.seq);
  }
}
