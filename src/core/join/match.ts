/**
 * Deciding one request's result from the result lines spilled for it: the
 * custom_id strings are compared (the index only matched hashes), repeats are
 * kept once or reported, and the status follows the line. Pure: the spilled
 * lines come in as bytes, and each join has its own matcher.
 */
import { JoinError, ParseError } from '../../errors.ts';
import type { BatchRequest, BatchResultLine, JoinedResult, ResultStatus } from '../../types.ts';
import { customIdText, describeOrigin, requestIdOf, type LineOrigin } from './custom-id.ts';
import { parseResultLine, resultStatus } from './result-line.ts';

/** The counts a matcher keeps; the join's stats hold them. */
export interface MatchCounts extends Record<ResultStatus, number> {
  duplicates: number;
  unknown: number;
  conflicting: number;
}

/** One spilled result line: the position of its result source, its line number there, and its bytes. */
export interface SpilledResult {
  header: { source: number; line: number };
  line: Buffer;
}

export interface MatcherOptions {
  /** How messages name each result source, by its position: `results[2] (out.jsonl)`. */
  sourceNames: readonly string[];
  /** Echo the input line as `request` on each result. */
  includeRequest: boolean;
  /** Takes unknown custom_ids and conflicting results; without it they are thrown. */
  onIssue: ((issue: JoinError) => void) | undefined;
}

export class ResultMatcher {
  private readonly options: MatcherOptions;
  private readonly counts: MatchCounts;

  constructor(options: MatcherOptions, counts: MatchCounts) {
    this.options = options;
    this.counts = counts;
  }

  sourceName(source: number): string {
    return this.options.sourceNames[source];
  }

  /** A result line whose custom_id is not in the input: counted, then reported or thrown. */
  unknownResult(origin: LineOrigin, customId: string): void {
    this.counts.unknown++;
    this.report(
      new JoinError('UNKNOWN_CUSTOM_ID', `${describeOrigin(origin)}: custom_id ${JSON.stringify(customId)} is not in the input`, {
        line: origin.line,
        customId,
      }),
    );
  }

  /** The result of the request on input `line` (`bytes`), from the lines spilled for its ordinal. */
  match(bytes: Buffer, line: number, spilled: Iterable<SpilledResult>): JoinedResult {
    const customId = customIdText(requestIdOf(bytes, { source: 'input', line }));
    let chosen: { result: BatchResultLine; raw: Buffer } | undefined;
    for (const record of spilled) {
      const origin = { source: this.sourceName(record.header.source), line: record.header.line };
      const result = parseResultLine(record.line, origin);
      // The index matched hashes; only the strings decide.
      if (result.custom_id !== customId) {
        this.unknownResult(origin, result.custom_id);
      } else if (!chosen) {
        chosen = { result, raw: record.line };
      } else if (record.line.equals(chosen.raw)) {
        this.counts.duplicates++;
        this.options.onIssue?.(
          new JoinError('DUPLICATE_RESULT', `${describeOrigin(origin)}: repeats the result for input line ${line}`, {
            line: origin.line,
            customId,
          }),
        );
      } else {
        this.counts.conflicting++;
        // The first result stays only when an onIssue callback takes the issue and the run goes on.
        const kept = this.options.onIssue ? '; the first one read is kept' : '';
        this.report(
          new JoinError(
            'CONFLICTING_RESULT',
            `${describeOrigin(origin)}: a second, different result for custom_id ${JSON.stringify(customId)} (input line ${line})${kept}`,
            { line: origin.line, customId },
          ),
        );
      }
    }
    const status = chosen ? resultStatus(chosen.result) : 'missing';
    this.counts[status]++;
    const joined: JoinedResult = {
      custom_id: customId,
      line,
      status,
      response: chosen ? chosen.result.response : null,
      error: chosen ? chosen.result.error : null,
    };
    if (this.options.includeRequest) joined.request = parseRequest(bytes, line);
    return joined;
  }

  private report(error: JoinError): void {
    if (!this.options.onIssue) throw error;
    this.options.onIssue(error);
  }
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
