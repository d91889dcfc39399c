/**
 * What every command that talks to the API shares: the client flags, the
 * client built from them and the environment, `--metadata k=v` pairs, and
 * JSON on stdout. The key is read from OPENAI_API_KEY only, never from a
 * flag, so it never lands in shell history or a process list.
 */
import { once } from 'node:events';
import { invalidOption, OptionError } from '../errors.ts';
import { ApiClient } from '../openai/client.ts';
import type { CommandIO, FlagSpec, FlagSpecs } from './command.ts';
import { intFlag, parseCommandArgs } from './flags.ts';
import { checkDirectory } from './paths.ts';

export const API_FLAGS = {
  'base-url': {
    type: 'string',
    value: 'URL',
    help: 'the API to talk to, e.g. http://127.0.0.1:8080/v1 (default: OPENAI_BASE_URL, else\nthe OpenAI API); the key is read from OPENAI_API_KEY only',
  },
  'max-attempts': { type: 'string', value: 'N', help: 'attempts per API call, the first included (default 8); 429/5xx/resets are retried' },
  'timeout-ms': { type: 'string', value: 'MS', help: 'time limit of one attempt (default 600000)' },
} as const satisfies Record<string, FlagSpec>;

export const METADATA_FLAG = {
  type: 'string',
  multiple: true,
  value: 'KEY=VALUE',
  help: 'a metadata pair (repeatable; up to 16 pairs, key ≤ 64, value ≤ 512 characters)',
} as const satisfies FlagSpec;

interface ApiFlagValues {
  'base-url'?: string | undefined;
  'max-attempts'?: string | undefined;
  'timeout-ms'?: string | undefined;
}

/** The client for a command: its flags, then the environment; retries told on stderr. */
export function apiClient(values: ApiFlagValues, io: CommandIO): ApiClient {
  const apiKey = io.env.OPENAI_API_KEY;
  if (!apiKey) throw new OptionError('MISSING_API_KEY', 'no API key: set OPENAI_API_KEY', { option: 'OPENAI_API_KEY' });
  const maxAttempts = intFlag(values['max-attempts'], 'max-attempts', 1);
  return new ApiClient({
    apiKey,
    baseURL: values['base-url'] ?? io.env.OPENAI_BASE_URL,
    timeoutMs: intFlag(values['timeout-ms'], 'timeout-ms', 1),
    retry: maxAttempts === undefined ? undefined : { maxAttempts },
    onRetry: (event) =>
      void io.stderr.write(`batchline: ${event.operation}: ${event.error.code}, attempt ${event.attempt} failed; retrying in ${event.delayMs} ms\n`),
  });
}

/**
 * The arguments of a command that takes either one batch id or
 * `--state-dir DIR` (a whole run): `status`, `cancel`. Returns the state dir,
 * checked to exist, or the batch id.
 */
export async function batchOrRun<T extends FlagSpecs>(
  name: string,
  args: string[],
  flags: T,
): Promise<{ values: ReturnType<typeof parseCommandArgs<T>>['values']; stateDir: string } | { values: ReturnType<typeof parseCommandArgs<T>>['values']; batchId: string }> {
  const forRun = args.some((arg) => arg === '--state-dir' || arg.startsWith('--state-dir='));
  const { values, positionals } = parseCommandArgs(name, args, flags, forRun ? { min: 0, max: 0, what: 'no batch id with --state-dir' } : { min: 1, max: 1, what: 'one batch id' });
  const stateDir = (values as { 'state-dir'?: string })['state-dir'];
  if (stateDir === undefined) return { values, batchId: positionals[0] };
  await checkDirectory(stateDir, '--state-dir', { mustExist: true });
  return { values, stateDir };
}

/** `--metadata k=v` pairs as an object; the API's limits are checked where the batch is made. */
export function metadataPairs(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw invalidOption('--metadata', `--metadata takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return metadata;
}

/** One JSON value a line on stdout, waiting for a slow reader (a long `list` into a pipe is never queued whole). */
export async function writeJson(io: CommandIO, value: unknown): Promise<void> {
  if (!io.stdout.write(`${JSON.stringify(value)}\n`)) await once(io.stdout, 'drain', { signal: io.signal });
}
