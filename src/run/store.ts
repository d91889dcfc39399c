/**
 * Where a run keeps its manifest: a header written once (the run id, the
 * options' fingerprint, the input) and the steps it records as it goes. The
 * pipeline talks only to this interface, so a shared store (a database table
 * for several workers) can take the file store's place.
 */
import type { RunHeader, RunStep } from '../core/run-state.ts';

export interface RunStore {
  /** The header and every recorded step, in order; a new store has no header and no steps. */
  load(): Promise<{ header: RunHeader | null; steps: RunStep[] }>;
  /** Writes the header of a new run, durably. */
  begin(header: RunHeader): Promise<void>;
  /** Records one step; resolves once it is durable (a crash after this keeps it). */
  record(step: RunStep): Promise<void>;
  /** The steps recorded so far (what `load` would return). */
  listSteps(): Promise<RunStep[]>;
  close(): Promise<void>;
}
