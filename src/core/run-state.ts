/**
 * A run's state as the fold of its recorded steps. Every side effect of a run
 * (a shard written, an upload begun and finished, a batch create begun and
 * its id, a batch's end, its files downloaded, the follow-up that retries its
 * failures) is recorded as a step before and after it happens; replaying the
 * steps after a crash tells exactly what is done, what may be half done
 * (begun, not finished) and what is still to do. Pure: no I/O.
 */
import { IoError } from '../errors.ts';
import type { BatchErrorItem, BatchStatus, BatchUsage, ShardDescriptor } from '../types.ts';

/** The options that decide what a run sends; a resumed run must have the same. */
export interface RunHeader {
  version: 1;
  runId: string;
  /** ms since the epoch: the submit stage's adoption lookup goes back to here. */
  createdAt: number;
  /** sha256 of the options that shape the batches (see run/options.ts). */
  fingerprint: string;
  /** The options the fingerprint covers, readable, for the refusal message. */
  settings: Record<string, unknown>;
  input: { kind: 'file'; path: string } | { kind: 'stream' };
  /** Whether the run talks to an emulator kept in the state dir. */
  local: boolean;
}

/**
 * One batch's worth of requests: a shard of the input (attempt 1) or a
 * follow-up retrying some of them. Its file is described as the sharder
 * describes a shard, with `path` relative to the state dir; `index` is unique
 * within the run and tags the batch (`batchline_shard`): shards count from 0,
 * follow-ups from FOLLOW_UP_BASE.
 */
export interface UnitSpec extends Omit<ShardDescriptor, 'tokens'> {
  /** The shard the requests came from. */
  origin: number;
  attempt: number;
  /** The unit this one retries; null for a shard. */
  parent: number | null;
  /** Estimated input tokens of its requests (0 when the run does not count them). */
  tokens: number;
  /** A file already on the API holding exactly these requests (a resubmission after a token-limit failure). */
  fileId?: string | undefined;
  /**
   * Resubmissions in this unit's line that did not count as a try: token-limit
   * failures while other batches of the model ran (the batch never ran; the
   * queue was full). Tries used: `attempt - deferred`.
   */
  deferred?: number | undefined;
}

/** How many token-limit resubmissions of one line may go without counting as a try. */
export const MAX_DEFERRED = 10;

/** The tries a unit's line has used, itself included. */
export function triesOf(spec: Pick<UnitSpec, 'attempt' | 'deferred'>): number {
  return spec.attempt - (spec.deferred ?? 0);
}

/** What is kept of a batch once it has ended. */
export interface EndedBatch {
  status: BatchStatus;
  outputFileId: string | null;
  errorFileId: string | null;
  requestCounts: { total: number; completed: number; failed: number };
  usage: BatchUsage | null;
  errors: BatchErrorItem[];
}

/** The result files of a unit, relative to the state dir. */
export interface UnitFiles {
  output: string | null;
  error: string | null;
  /** Error lines written by batchline for a batch that failed as a whole (one per request). */
  failed: string | null;
}

export type RunStep =
  | { kind: 'shard'; unit: UnitSpec }
  | { kind: 'ingested'; inputSha256: string; inputBytes: number; requests: number; shards: number }
  | { kind: 'upload-begun'; unit: number }
  | { kind: 'upload-created'; unit: number; uploadId: string }
  | { kind: 'uploaded'; unit: number; fileId: string }
  | { kind: 'submit-begun'; unit: number; fileId: string }
  | { kind: 'submitted'; unit: number; batchId: string; adopted: boolean }
  | { kind: 'ended'; unit: number; batch: EndedBatch }
  | { kind: 'downloaded'; unit: number; files: UnitFiles }
  /** The unit is done; `followUp` is the unit retrying its unfinished requests, when there is one. */
  | { kind: 'settled'; unit: number; retried: number; followUp: UnitSpec | null }
  | { kind: 'joined'; output: string | null; requests: number };

export const FOLLOW_UP_BASE = 1_000_000;

export interface UnitState {
  spec: UnitSpec;
  uploadBegun: boolean;
  uploadId: string | null;
  fileId: string | null;
  submitBegun: boolean;
  batchId: string | null;
  adopted: boolean;
  ended: EndedBatch | null;
  files: UnitFiles | null;
  settled: boolean;
  retried: number;
  followUp: number | null;
}

export interface RunState {
  units: Map<number, UnitState>;
  ingested: Extract<RunStep, { kind: 'ingested' }> | null;
  joined: Extract<RunStep, { kind: 'joined' }> | null;
  /** The next free follow-up index. */
  nextFollowUp: number;
  steps: number;
}

export function emptyRunState(): RunState {
  return { units: new Map(), ingested: null, joined: null, nextFollowUp: FOLLOW_UP_BASE, steps: 0 };
}

function newUnit(spec: UnitSpec): UnitState {
  return {
    spec,
    uploadBegun: false,
    uploadId: null,
    fileId: spec.fileId ?? null,
    submitBegun: false,
    batchId: null,
    adopted: false,
    ended: null,
    files: null,
    settled: false,
    retried: 0,
    followUp: null,
  };
}

/** A step that cannot follow the ones before it: a damaged or foreign journal. */
function corrupt(message: string): IoError {
  return new IoError('RUN_STATE_CORRUPT', `the run journal does not hold together: ${message}`);
}

function unitOf(state: RunState, index: number, step: RunStep): UnitState {
  const unit = state.units.get(index);
  if (!unit) throw corrupt(`step ${step.kind} names unit ${index}, which no earlier step made`);
  return unit;
}

/** Applies one step to the state (in place) and returns it. */
export function applyRunStep(state: RunState, step: RunStep): RunState {
  state.steps++;
  switch (step.kind) {
    case 'shard':
      state.units.set(step.unit.index, newUnit(step.unit));
      break;
    case 'ingested':
      state.ingested = step;
      break;
    case 'upload-begun':
      unitOf(state, step.unit, step).uploadBegun = true;
      break;
    case 'upload-created':
      unitOf(state, step.unit, step).uploadId = step.uploadId;
      break;
    case 'uploaded': {
      const unit = unitOf(state, step.unit, step);
      unit.fileId = step.fileId;
      unit.uploadId = null;
      break;
    }
    case 'submit-begun':
      unitOf(state, step.unit, step).submitBegun = true;
      break;
    case 'submitted': {
      const unit = unitOf(state, step.unit, step);
      unit.batchId = step.batchId;
      unit.adopted = step.adopted;
      break;
    }
    case 'ended':
      unitOf(state, step.unit, step).ended = step.batch;
      break;
    case 'downloaded':
      unitOf(state, step.unit, step).files = step.files;
      break;
    case 'settled': {
      const unit = unitOf(state, step.unit, step);
      unit.settled = true;
      unit.retried = step.retried;
      if (step.followUp) {
        unit.followUp = step.followUp.index;
        state.units.set(step.followUp.index, newUnit(step.followUp));
        state.nextFollowUp = Math.max(state.nextFollowUp, step.followUp.index + 1);
      }
      break;
    }
    case 'joined':
      state.joined = step;
      break;
    default:
      throw corrupt(`unknown step ${JSON.stringify((step as { kind?: unknown }).kind)}`);
  }
  return state;
}

export function foldRunSteps(steps: Iterable<RunStep>): RunState {
  const state = emptyRunState();
  for (const step of steps) applyRunStep(state, step);
  return state;
}

/** Where a unit stands, for progress and `batchline status --state-dir`. */
export function unitPhase(unit: UnitState): 'sharded' | 'uploading' | 'uploaded' | 'submitting' | 'submitted' | BatchStatus | 'downloaded' | 'settled' {
  if (unit.settled) return 'settled';
  if (unit.files) return 'downloaded';
  if (unit.ended) return unit.ended.status;
  if (unit.batchId) return 'submitted';
  if (unit.submitBegun) return 'submitting';
  if (unit.fileId) return 'uploaded';
  if (unit.uploadBegun) return 'uploading';
  return 'sharded';
}
