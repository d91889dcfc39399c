/**
 * Batch metadata: the user's pairs plus the tags that make a create
 * idempotent (the run id, the shard index, a prefix of the shard's sha256,
 * or the input file id for a bare file), checked against the Batch API's
 * limits before any request goes out, and matched when a retried create
 * looks for the batch an earlier, lost response already made.
 */
import { invalidOption, OptionError } from '../errors.ts';

export const RUN_TAG = 'batchline_run';
export const SHARD_TAG = 'batchline_shard';
export const SHA256_TAG = 'batchline_sha256';
export const FILE_TAG = 'batchline_file';

/** Our keys: a user's metadata may not set them. */
export const RESERVED_METADATA_KEYS: ReadonlySet<string> = new Set([RUN_TAG, SHARD_TAG, SHA256_TAG, FILE_TAG]);

/** The Batch API's metadata limits. */
export const METADATA_LIMITS = Object.freeze({ maxPairs: 16, maxKeyLength: 64, maxValueLength: 512 });

/** How many hex digits of the shard's sha256 go into its tag: enough to tell two shards apart, short to read. */
export const SHA256_TAG_LENGTH = 16;

/** What identifies one batch of a run. */
export interface BatchTags {
  runId: string;
  /** The shard's index (a shard submit). */
  shard?: number | undefined;
  /** The shard file's sha256 (hex); its first 16 digits are tagged. */
  sha256?: string | undefined;
  /** The input file id (a bare-file submit). */
  fileId?: string | undefined;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** A run id is 1-64 letters, digits and `. _ : -`, so it fits a metadata value and a file name. */
export function checkRunId(runId: unknown): string {
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
    throw invalidOption('runId', `runId must be 1-64 letters, digits, '.', '_', ':' or '-' (starting with a letter or digit), got ${JSON.stringify(runId)}`);
  }
  return runId;
}

/** The tag pairs for `tags`, in a fixed order. */
export function tagMetadata(tags: BatchTags): Record<string, string> {
  const out: Record<string, string> = { [RUN_TAG]: tags.runId };
  if (tags.shard !== undefined) out[SHARD_TAG] = String(tags.shard);
  if (tags.sha256 !== undefined) out[SHA256_TAG] = tags.sha256.slice(0, SHA256_TAG_LENGTH).toLowerCase();
  if (tags.fileId !== undefined) out[FILE_TAG] = tags.fileId;
  return out;
}

/**
 * Checks a user's metadata: an object of string values within the limits,
 * leaving room for `reservedPairs` tags, and none of our keys. Returns a copy.
 */
export function checkUserMetadata(metadata: unknown, reservedPairs = 0): Record<string, string> {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw badMetadata(`metadata must be an object of string values, got ${Array.isArray(metadata) ? 'an array' : typeof metadata}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
    if (RESERVED_METADATA_KEYS.has(key)) throw badMetadata(`metadata key ${JSON.stringify(key)} is reserved for batchline's own tags`);
    out[key] = value as string;
  }
  checkMetadataLimits(out, reservedPairs);
  return out;
}

function badMetadata(message: string): OptionError {
  return new OptionError('INVALID_METADATA', message, { option: 'metadata' });
}

/** Throws INVALID_METADATA unless `metadata` (plus `reservedPairs` still to come) fits the Batch API's limits. */
export function checkMetadataLimits(metadata: Record<string, unknown>, reservedPairs = 0): void {
  const { maxPairs, maxKeyLength, maxValueLength } = METADATA_LIMITS;
  const entries = Object.entries(metadata);
  if (entries.length + reservedPairs > maxPairs) {
    const room = maxPairs - reservedPairs;
    throw badMetadata(`metadata has ${entries.length} pairs; at most ${room} fit beside batchline's ${reservedPairs} tags (the API allows ${maxPairs})`);
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > maxKeyLength) {
      throw badMetadata(`metadata key ${JSON.stringify(key.slice(0, 70))} must be 1-${maxKeyLength} characters, it has ${key.length}`);
    }
    if (typeof value !== 'string') throw badMetadata(`metadata value of ${JSON.stringify(key)} must be a string, got ${typeof value}`);
    if (value.length > maxValueLength) {
      throw badMetadata(`metadata value of ${JSON.stringify(key)} has ${value.length} characters; the limit is ${maxValueLength}`);
    }
  }
}

/** The user's pairs and the tags as one checked metadata object. */
export function buildBatchMetadata(userMetadata: unknown, tags: BatchTags): Record<string, string> {
  const tagPairs = tagMetadata(tags);
  const metadata = { ...checkUserMetadata(userMetadata, Object.keys(tagPairs).length), ...tagPairs };
  checkMetadataLimits(metadata);
  return metadata;
}

/** Whether `metadata` holds every pair of `wanted` (a client-side list filter, and the adoption test). */
export function metadataMatches(metadata: Record<string, string> | null | undefined, wanted: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    if (metadata?.[key] !== value) return false;
  }
  return true;
}

/** A metadata filter for a list: string pairs, our tag keys allowed (to find a run's batches). */
export function checkMetadataFilter(filter: unknown): Record<string, string> {
  if (filter === undefined || filter === null) return {};
  if (typeof filter !== 'object' || Array.isArray(filter)) throw invalidOption('metadata', 'metadata must be an object of string values');
  for (const [key, value] of Object.entries(filter as Record<string, unknown>)) {
    if (typeof value !== 'string') throw invalidOption('metadata', `metadata filter value of ${JSON.stringify(key)} must be a string, got ${typeof value}`);
  }
  return { ...(filter as Record<string, string>) };
}
