/** Reading a command's arguments: every flag and argument checked, none ignored, each fault a coded OptionError. */
import { parseArgs } from 'node:util';
import { invalidOption } from '../errors.ts';
import { wholeNumberOption } from '../core/options.ts';
import type { FlagSpecs } from './command.ts';

/** Flags that named the bad-line policy before it became one flag on every command. */
const RETIRED_FLAGS: Record<string, string> = {
  'fail-fast': '--on-invalid error',
  'skip-invalid': '--on-invalid skip',
  lenient: '--on-invalid skip',
};

export interface Positionals {
  min: number;
  max: number;
  /** What the arguments are, for the error messages: `one input file (or - for stdin)`. */
  what: string;
}

/**
 * parseArgs with our error codes: an unknown flag, a missing value, a
 * retired flag (with its replacement named), too few or too many arguments
 * are each a coded OptionError, never ignored.
 */
export function parseCommandArgs<T extends FlagSpecs>(name: string, args: string[], flags: T, positionals: Positionals) {
  const end = args.indexOf('--');
  for (const arg of end === -1 ? args : args.slice(0, end)) {
    const flag = /^--([^=]+)/.exec(arg)?.[1];
    if (flag !== undefined && Object.hasOwn(RETIRED_FLAGS, flag) && !Object.hasOwn(flags, flag)) {
      throw invalidOption(`--${flag}`, `--${flag} is no longer a flag: use ${RETIRED_FLAGS[flag]} (the bad-line policy is one flag on every command)`);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: flags, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs names the flag in its message only: `Unknown option '--x'`, `Option '-o, --output <value>' argument missing`.
    const flag = /'(?:-\w, )?(--?[^'\s]+)/.exec((err as Error).message)?.[1] ?? 'arguments';
    throw invalidOption(flag, `${(err as Error).message} (see \`batchline help ${name}\`)`);
  }
  const count = parsed.positionals.length;
  if (count > positionals.max) {
    const extra = parsed.positionals[positionals.max];
    throw invalidOption('arguments', `unexpected argument ${JSON.stringify(extra)}: ${name} takes ${positionals.what}`);
  }
  if (count < positionals.min) throw invalidOption('arguments', `${name} takes ${positionals.what}`);
  return parsed;
}

/** A whole-number flag, checked by the same wholeNumberOption the stages use; undefined when absent. */
export function intFlag(text: string | undefined, flag: string, min: number): number | undefined {
  return wholeNumberOption(text !== undefined && /^\d+$/.test(text) ? Number(text) : text, `--${flag}`, undefined, min);
}

/** A number flag within [min, max], naming the flag when it is not one; undefined when absent. */
export function numberFlag(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw invalidOption(`--${flag}`, `--${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** The bad-line policy every command that reads lines takes: `--on-invalid error|skip`, `error` by default. */
export function onInvalidFlag(text: string | undefined): 'error' | 'skip' {
  if (text === undefined || text === 'error' || text === 'skip') return text ?? 'error';
  throw invalidOption('--on-invalid', `--on-invalid takes error or skip, got ${JSON.stringify(text)}`);
}
