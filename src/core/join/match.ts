/**
 * Deciding one request's result from the result lines spilled for it: the
 * custom_id strings are compared (the index only matched hashes), repeats are
 * kept once or reported, and the status follows the line.
 */
import { JoinError, ParseError } from '../../errors.ts';
import { customIdText, requestIdOf, type LineOrigin } from './custom-id.ts';
import { parseResultLine, resultStatus } from './result-line.ts';
import type { BatchRequest, BatchResultLine, JoinedResult } from '../../types.ts';
import type { JoinStats, NormalizedJoinOptions } from '../../join/options.ts';
import type { LoadedPartition } from '../../join/spill-reader.ts';

const sourceNames = new WeakMap<NormalizedJoinOptions, string[]>();

/** `results[2] (out.jsonl)`: how messages name a result source (built once per join). */
export function sourceName(options: NormalizedJoinOptions, source: number): string {
  let names = sourceNames.get(options);
  if (!names) {
    names = options.results.map(({ index, source: given }) => (typeof given === 'string' ? `results[${index}] (${given})` : `results[${index}]`));
    sourceNames.set(options, names);
  }
  return names[source];
}

export function issue(options: NormalizedJoinOptions, error: JoinError): void {
  if (!options.onIssue) throw error;
  options.onIssue(error);
}

export function unknownId(origin: LineOrigin, customId: string): JoinError {
  return new JoinError(
    'UNKNOWN_CUSTOM_ID',
    `${origin.source} line ${origin.line}: custom_id ${JSON.stringify(customId)} is not in the input`,
    { line: origin.line, customId },
  );
}

export function joinOne(
  options: NormalizedJoinOptions,
  stats: JoinStats,
  partition: LoadedPartition,
  ordinal: number,
  bytes: Buffer,
  line: number,
): JoinedResult {
  const customId = customIdText(requestIdOf(bytes, { source: 'input', line }));
  let chosen: { result: BatchResultLine; raw: Buffer } | undefined;
  for (const record of partition.recordsFor(ordinal)) {
    const origin = { source: sourceName(options, record.header.source), line: record.header.line };
    const result = parseResultLine(record.line, origin);
    // The index matched hashes; only the strings decide.
    if (result.custom_id !== customId) {
      stats.unknown++;
      issue(options, unknownId(origin, result.custom_id));
    } else if (!chosen) {
      chosen = { result, raw: record.line };
    } else if (record.line.equals(chosen.raw)) {
      stats.duplicates++;
      options.onIssue?.(
        new JoinError('DUPLICATE_RESULT', `${origin.source} line ${origin.line}: repeats the result for input line ${line}`, {
          line: origin.line,
          customId,
        }),
      );
    } else {
      stats.conflicting++;
      issue(
        options,
        new JoinError(
          'CONFLICTING_RESULT',
          `${origin.source} line ${origin.line}: a second, different result for custom_id ${JSON.stringify(customId)} (input line ${line}); the first one read is kept`,
          { line: origin.line, customId },
        ),
      );
    }
  }
  const status = chosen ? resultStatus(chosen.result) : 'missing';
  stats[status]++;
  const joined: JoinedResult = {
    custom_id: customId,
    line,
    status,
    response: chosen ? chosen.result.response : null,
    error: chosen ? chosen.result.error : null,
  };
  if (options.includeRequest) joined.request = parseRequest(bytes, line);
  return joined;
}

/**
 * The input line as the echoed request. The index pass checked every line,
 * so this fails only when the input was changed between the passes.
 */
function parseRequest(bytes: Buffer, line: number): BatchRequest {
  try {
    return JSON.parse(bytes.toString('utf8')) as BatchRequest;
  } catch (err) {
    throw new ParseError('INVALID_JSON', `input line ${line}: not valid JSON (${(err as Error).message})`, { line, cause: err });
  }
}
