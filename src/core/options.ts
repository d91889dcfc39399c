import { invalidOption } from '../errors.ts';

/**
 * A whole-number option, checked in one way everywhere (the stages and the
 * CLI's flags): `fallback` when it is absent, else a safe integer within
 * [min, max], or INVALID_OPTION naming it. `value` is whatever the caller was
 * given, so the message can show it as it came (a flag's text, say).
 */
export function wholeNumberOption<F extends number | undefined>(
  value: unknown,
  name: string,
  fallback: F,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number | F {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw invalidOption(name, `${name} must be a whole number ${range}, got ${JSON.stringify(value)}`);
  }
  return value;
}
