/**
 * Deciding one request's result from the result lines spilled for it: the
 * custom_id strings are compared (the index only matched hashes), repeats are
 * kept once or reported, and the status follows the line. Pure: the spilled
 * lines come in as bytes, and each join has its own matcher.
 */
import { JoinError, ParseError } from '../../errors.ts';
import type { BatchRequest, JoinedResult, ResultStatus } from '../../types.ts';
import { customIdOf, customIdText, describeOrigin, requestIdOf, type LineOrigin } from './custom-id.ts';
import { parseResultLine, plainSuccessSpans, resultStatus } from './result-line.ts';

const NULL_VALUE = Buffer.from('null');
const ERROR_PREFIX = Buffer.from(',"error":');
const REQUEST_PREFIX = Buffer.from(',"request":');
const CLOSE = Buffer.from('}');

/** An input line without the spaces around it (a CR left by a CRLF file included). */
function trimmed(bytes: Buffer): Buffer {
  let start = 0;
  let end = bytes.length;
  while (start < end && (bytes[start] === 0x20 || bytes[start] === 0x09 || bytes[start] === 0x0d)) start++;
  while (end > start && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09 || bytes[end - 1] === 0x0d)) end--;
  return bytes.subarray(start, end);
}

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

  /**
   * The result line chosen for the request on input `line` (`bytes`) among
   * the lines spilled for its ordinal: the first whose custom_id string is
   * the request's; the others are reported (unknown, duplicate, conflicting).
   * A line's custom_id is read by the fast scan, the line parsed only when
   * the scan cannot read it (which also checks its shape).
   */
  private choose(bytes: Buffer, line: number, spilled: Iterable<SpilledResult>): { customId: string; chosen: { line: Buffer; origin: LineOrigin } | undefined } {
    const customId = customIdText(requestIdOf(bytes, { source: 'input', line }));
    let chosen: { line: Buffer; origin: LineOrigin } | undefined;
    for (const record of spilled) {
      const origin = { source: this.sourceName(record.header.source), line: record.header.line };
      const id = customIdOf(record.line);
      const resultId = id ? customIdText(id) : parseResultLine(record.line, origin).custom_id;
      // The index matched hashes; only the strings decide.
      if (resultId !== customId) {
        this.unknownResult(origin, resultId);
      } else if (!chosen) {
        chosen = { line: record.line, origin };
      } else if (record.line.equals(chosen.line)) {
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
    return { customId, chosen };
  }

  /** The result of the request on input `line` (`bytes`), from the lines spilled for its ordinal. */
  match(bytes: Buffer, line: number, spilled: Iterable<SpilledResult>): JoinedResult {
    const { customId, chosen } = this.choose(bytes, line, spilled);
    const result = chosen ? parseResultLine(chosen.line, chosen.origin) : undefined;
    const status = result ? resultStatus(result) : 'missing';
    this.counts[status]++;
    const joined: JoinedResult = { custom_id: customId, line, status, response: result ? result.response : null, error: result ? result.error : null };
    if (this.options.includeRequest) joined.request = parseRequest(bytes, line);
    return joined;
  }

  /**
   * The same result as one JSON line (no line break), written from the
   * bytes: the response and error as the result line holds them, the input
   * line as the request. JSON.stringify(match(…)) gives the same value; a
   * line the fast scan cannot vouch for takes that way.
   */
  matchLine(bytes: Buffer, line: number, spilled: Iterable<SpilledResult>): Buffer {
    const { customId, chosen } = this.choose(bytes, line, spilled);
    let status: ResultStatus = 'missing';
    let response: Buffer = NULL_VALUE;
    let error: Buffer = NULL_VALUE;
    if (chosen) {
      const spans = plainSuccessSpans(chosen.line);
      if (spans === null) {
        const result = parseResultLine(chosen.line, chosen.origin);
        status = resultStatus(result);
        response = result.response === null ? NULL_VALUE : Buffer.from(JSON.stringify(result.response));
        error = result.error === null ? NULL_VALUE : Buffer.from(JSON.stringify(result.error));
      } else {
        status = 'succeeded';
        const [responseSpan, errorSpan] = spans;
        response = chosen.line.subarray(responseSpan.start, responseSpan.end);
        error = chosen.line.subarray(errorSpan.start, errorSpan.end);
      }
    }
    this.counts[status]++;
    const head = `{"custom_id":${JSON.stringify(customId)},"line":${line},"status":"${status}","response":`;
    const parts = [Buffer.from(head), response, ERROR_PREFIX, error];
    if (this.options.includeRequest) {
      parseRequest(bytes, line);
      parts.push(REQUEST_PREFIX, trimmed(bytes));
    }
    parts.push(CLOSE);
    return Buffer.concat(parts);
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
