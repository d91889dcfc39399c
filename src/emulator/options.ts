/**
 * The emulator's options, checked in one place: every bad value is an
 * INVALID_OPTION naming it, before a port is opened or a file written. The
 * batch engine checks its own options (it is usable on its own).
 */
import { wholeNumberOption } from '../core/options.ts';
import { invalidOption } from '../errors.ts';
import { normalizeEngineSettings, type EngineSettings } from './batches/engine-options.ts';
import { EmulatorClock } from './clock.ts';
import type { FaultKind } from './faults.ts';

export interface EmulatorLimits {
  /** Bytes per file sent to POST /v1/files; the service allows 512 MB. */
  maxFileBytes: number;
  /** Bytes per Upload part; the service allows 64 MB. */
  maxPartBytes: number;
  /** Bytes per Upload; the service allows 8 GB. */
  maxUploadBytes: number;
  /** Bytes of a JSON request body. */
  maxJsonBytes: number;
}

export const DEFAULT_LIMITS: EmulatorLimits = {
  maxFileBytes: 512 * 1024 * 1024,
  maxPartBytes: 64 * 1024 * 1024,
  maxUploadBytes: 8 * 1024 * 1024 * 1024,
  maxJsonBytes: 1024 * 1024,
};

/** The batch engine's settings (duration, cancel duration, error rates, token limit, creation limit, batch faults, seed) plus the server's own. */
export interface EmulatorOptions extends EngineSettings {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Only the loopback address: the emulator is never reachable from another machine. */
  host?: '127.0.0.1';
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /**
   * When set, every batch retrieve carries `openai-poll-after-ms: <pollAfterMs>`.
   * Off by default: whether the live batches endpoint sends it is unverified,
   * so a client must poll sensibly without it.
   */
  pollAfterMs?: number;
  /** Share of requests, 0 … 1, that get a random injected fault (default 0). */
  faultRate?: number;
  /** The fault kinds `faultRate` chooses from (default all). */
  faultKinds?: readonly FaultKind[];
  /** Keep files, uploads and batches here so they survive a restart (default: memory only). */
  stateDir?: string;
  /** Seeds every random choice: faults, error lines, shuffles, absent file ids sent as "". */
  seed?: number;
  /** Lower the service's size limits, so tests can cross them without sending 512 MB. */
  limits?: Partial<EmulatorLimits>;
  /** Emulator time; pass one to share it, or use `handle.clock.advance()`. */
  clock?: EmulatorClock;
  /** Where unexpected server errors are reported (default: nowhere). */
  log?: (line: string) => void;
}

/** The options once checked, with their defaults filled in. */
export interface NormalizedEmulatorOptions extends Omit<EmulatorOptions, 'host' | 'port' | 'limits' | 'clock' | 'seed'> {
  /** What the batch engine is given, already checked. */
  engine: EngineSettings;
  host: '127.0.0.1';
  port: number;
  limits: EmulatorLimits;
  clock: EmulatorClock;
  seed: number;
}

export function normalizeEmulatorOptions(options: EmulatorOptions): NormalizedEmulatorOptions {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw invalidOption('host', `the emulator binds to 127.0.0.1 only, got host ${JSON.stringify(host)}`);
  const limits: EmulatorLimits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [name, value] of Object.entries(limits)) wholeNumberOption(value, `limits.${name}`, 1);
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) {
    throw invalidOption('apiKey', 'apiKey must be a non-empty string');
  }
  const seed = wholeNumberOption(options.seed, 'seed', 1, 0, 0xffff_ffff);
  const { batchDurationMs, cancelDurationMs, errorRate, transientErrorRate, tokenLimit, batchCreationLimit, batchFaults } = options;
  const engine: EngineSettings = { batchDurationMs, cancelDurationMs, errorRate, transientErrorRate, tokenLimit, batchCreationLimit, batchFaults, seed };
  // Checked here too, so a bad engine setting is refused before a state directory is touched.
  normalizeEngineSettings(engine);
  if (options.pollAfterMs !== undefined) wholeNumberOption(options.pollAfterMs, 'pollAfterMs', 0, 0);
  return {
    ...options,
    engine,
    host,
    port: wholeNumberOption(options.port, 'port', 0, 0, 65535),
    limits,
    clock: options.clock ?? new EmulatorClock(),
    seed,
  };
}
