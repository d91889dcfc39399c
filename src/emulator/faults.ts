/**
 * Fault injection: which requests fail, and how. A fault is decided when a
 * request arrives, before the emulator acts on it, so that an injected
 * failure never leaves half-done state behind — with one deliberate
 * exception, `reset-response`, which lets the action complete and then loses
 * the answer (the "lost response" case: the client cannot know whether its
 * upload or batch exists, and a blind retry creates a second one).
 */
import { seededRandom } from '../core/seeded-random.ts';
import { invalidOption } from '../errors.ts';

export const FAULT_KINDS = ['429', '500', '503', 'reset-request', 'reset-response', 'truncate', 'slow'] as const;

/**
 * - `429` / `500` / `503`: an API error reply instead of the action; 429 carries `Retry-After` and `retry-after-ms`.
 * - `reset-request`: the connection is reset while the request body is still arriving; nothing is done.
 * - `reset-response`: the action is done, then the connection is reset half way through the reply.
 * - `truncate`: the reply announces its full Content-Length, sends part of it and closes cleanly.
 * - `slow`: the reply body is sent in small pieces with a pause between them.
 */
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultMatch {
  method?: string;
  /** Matched against the path without its query string, e.g. `/v1/files` or `/\/v1\/files\/[^/]+\/content$/`. */
  path?: string | RegExp;
}

export interface FaultRule {
  match?: FaultMatch;
  kind: FaultKind;
  /** How many matching requests get this fault; default 1, `Infinity` for all. */
  times?: number;
  /** For 429: the wait the reply asks for (default 1 s); fractions are sent exactly in `retry-after-ms`. */
  retryAfterSeconds?: number;
  /** For `slow`: the pause between pieces (default 50 ms). */
  delayMs?: number;
  /** For `slow`: bytes per piece (default: a tenth of the body, at least 1). */
  chunkBytes?: number;
  /** For `truncate`, `reset-response` and `reset-request`: the share of the body that gets through (default 0.5). */
  fraction?: number;
}

/** A fault chosen for one request. */
export interface Fault {
  kind: FaultKind;
  retryAfterSeconds: number;
  delayMs: number;
  chunkBytes: number | undefined;
  fraction: number;
}

/** What the plan did, for tests to assert on. */
export interface InjectedFault {
  kind: FaultKind;
  method: string;
  path: string;
}

export interface RandomFaults {
  /** Share of requests, 0 … 1, that get a random fault. */
  rate: number;
  /** The kinds to choose from; default every kind. */
  kinds?: readonly FaultKind[];
  /** Seed of the generator, so a run's faults can be replayed. */
  seed?: number;
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

/** Faults to inject: rules added by tests, checked in order, then a random share of everything else. */
export class FaultPlan {
  readonly injected: InjectedFault[] = [];
  private readonly rules: ActiveRule[] = [];
  private rate = 0;
  private kinds: readonly FaultKind[] = FAULT_KINDS;
  private random: () => number = seededRandom(1);

  constructor(random?: RandomFaults) {
    if (random) this.setRandom(random);
  }

  /** Adds a rule; returns a function that removes it. */
  add(rule: FaultRule): () => void {
    if (!FAULT_KINDS.includes(rule.kind)) {
      throw invalidOption('kind', `fault kind must be one of ${FAULT_KINDS.join(', ')}, got ${JSON.stringify(rule.kind)}`);
    }
    const times = rule.times ?? 1;
    if (!(times > 0)) throw invalidOption('times', `fault times must be > 0, got ${times}`);
    const fraction = rule.fraction ?? 0.5;
    if (!(fraction >= 0 && fraction < 1)) throw invalidOption('fraction', `fault fraction must be in [0, 1), got ${fraction}`);
    const active: ActiveRule = { rule, remaining: times };
    this.rules.push(active);
    return () => {
      const at = this.rules.indexOf(active);
      if (at >= 0) this.rules.splice(at, 1);
    };
  }

  /** Removes every rule (the random rate stays). */
  clear(): void {
    this.rules.length = 0;
  }

  /** Rules that still have faults to give. */
  get pending(): number {
    return this.rules.length;
  }

  setRandom(random: RandomFaults): void {
    if (!(random.rate >= 0 && random.rate <= 1)) {
      throw invalidOption('faultRate', `fault rate must be a number from 0 to 1, got ${random.rate}`);
    }
    this.rate = random.rate;
    if (random.kinds) {
      for (const kind of random.kinds) {
        if (!FAULT_KINDS.includes(kind)) throw invalidOption('faultKinds', `unknown fault kind ${JSON.stringify(kind)}`);
      }
      this.kinds = random.kinds;
    }
    this.random = seededRandom(random.seed ?? 1);
  }

  /** Decides the fault for one request, if any, and records it. */
  take(method: string, path: string): Fault | undefined {
    for (const active of this.rules) {
      if (!matches(active.rule.match, method, path)) continue;
      active.remaining -= 1;
      if (active.remaining <= 0) this.rules.splice(this.rules.indexOf(active), 1);
      return this.record(toFault(active.rule), method, path);
    }
    if (this.rate > 0 && this.kinds.length > 0 && this.random() < this.rate) {
      const kind = this.kinds[Math.floor(this.random() * this.kinds.length)];
      return this.record(toFault({ kind }), method, path);
    }
    return undefined;
  }

  private record(fault: Fault, method: string, path: string): Fault {
    this.injected.push({ kind: fault.kind, method, path });
    return fault;
  }
}

function matches(match: FaultMatch | undefined, method: string, path: string): boolean {
  if (!match) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
  if (match.path === undefined) return true;
  if (typeof match.path === 'string') return match.path === path;
  match.path.lastIndex = 0;
  return match.path.test(path);
}

function toFault(rule: FaultRule): Fault {
  return {
    kind: rule.kind,
    retryAfterSeconds: rule.retryAfterSeconds ?? 1,
    delayMs: rule.delayMs ?? 50,
    chunkBytes: rule.chunkBytes,
    fraction: rule.fraction ?? 0.5,
  };
}
