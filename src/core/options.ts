import { OptionError } from '../errors.ts';

/**
 * A whole-number option, checked in one way everywhere: `fallback` when it is
 * absent, else a safe integer within [min, max], or INVALID_OPTION naming it.
 */
export function wholeNumberOption(
  value: number | undefined,
  name: string,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new OptionError('INVALID_OPTION', `${name} must be a whole number ${range}, got ${JSON.stringify(value)}`);
  }
  return value;
}
