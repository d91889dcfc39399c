import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OptionError } from '../errors.ts';

/** Where a command reads and writes; tests pass their own streams. */
export interface CommandIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface Command {
  summary: string;
  usage: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with our error codes: an unknown flag or a missing value is a coded OptionError. */
export function parseCommandArgs<T extends Options>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new OptionError('INVALID_OPTION', (err as Error).message);
  }
}

/** Reads a whole-number option, naming the option when it is not one. */
export function intOption(value: string | undefined, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new OptionError('INVALID_OPTION', `--${name} must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Reads a number option, naming the option when it is not one. */
export function numberOption(value: string | undefined, name: string, min = 0, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new OptionError('INVALID_OPTION', `--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}
