import type { Writable } from 'node:stream';
import type { CommandIO } from './command.ts';
import { errorJson, formatError } from './format-error.ts';

/**
 * What a command tells about its run besides its data: each bad line it
 * skipped or the error that stopped it, then one closing summary. As text on
 * stderr; with `--json` as one JSON object a line (`"type": "error"` or
 * `"type": "summary"`), on stdout unless stdout carries the command's data
 * (shard descriptors, joined results), then on stderr, so the two never mix.
 */
export interface Report {
  readonly json: boolean;
  error(err: unknown): void;
  /** `text` for people (after `batchline <command>: `), `fields` for --json. */
  summary(text: string, fields: Record<string, unknown>): void;
}

export function createReport(io: CommandIO, command: string, options: { json: boolean; dataOnStdout: boolean }): Report {
  const json = options.json;
  const target: Writable = json && !options.dataOnStdout ? io.stdout : io.stderr;
  const write = (line: string) => void target.write(`${line}\n`);
  return {
    json,
    error(err) {
      write(json ? JSON.stringify(errorJson(err)) : formatError(err));
    },
    summary(text, fields) {
      write(json ? JSON.stringify({ type: 'summary', command, ...fields }) : `batchline ${command}: ${text}`);
    },
  };
}

/**
 * Runs what a command does before its work (flag values, paths): a failure
 * there is reported like any error, with --json as JSON, and with no summary
 * since nothing ran. Resolves to undefined then.
 */
export async function prepare<T>(report: Report, steps: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await steps();
  } catch (err) {
    report.error(err);
    return undefined;
  }
}
