/** Opens the file store the options ask for: on disk with a state directory (loading what is there), else in memory. */
import { join } from 'node:path';
import { EmulatorClock } from '../clock.ts';
import { DiskFileStore } from './disk-file-store.ts';
import type { EmulatorFileStore } from './file-store.ts';
import { MemoryFileStore } from './memory-file-store.ts';

export interface FileStoreOptions {
  clock?: EmulatorClock;
  /** Keep bodies and metadata under this directory so they survive a restart. */
  stateDir?: string;
}

export async function createFileStore(options: FileStoreOptions = {}): Promise<EmulatorFileStore> {
  const clock = options.clock ?? new EmulatorClock();
  if (options.stateDir === undefined) return new MemoryFileStore(clock);
  return DiskFileStore.open(join(options.stateDir, 'files'), clock);
}
