/**
 * A fast path for the lines a text endpoint answers with: the generic line
 * (answer-lines.ts) is rendered once per batch with markers in place of what
 * differs from request to request — the three ids, the custom_id, the reply
 * and the token counts — and cut at the markers into constant bytes. Each
 * line is then written straight into the output buffer, its ids as hex bytes
 * of its key, with no string made for the line; and its byte length is a sum,
 * so a result file's size is known without rendering it.
 *
 * The template is checked against the generic line on a probe request full of
 * characters JSON escapes before it is used; when they differ (a shape the
 * markers cannot stand in for), there is no template and lines take the
 * generic path, byte for byte the same.
 */
import { keyOf, writeHexOf, type StableKey } from '../../core/seeded-random.ts';
import type { BatchEndpoint } from '../../types.ts';
import { BODY_ID_HEX_LENGTH, BODY_ID_SALT, ID_HEX_LENGTH, LINE_ID_SALT, lineIdsFromKey, renderAnswer, REQUEST_ID_SALT, type LineIds } from './answer-lines.ts';
import type { RenderContext, RequestPlan } from './request-plan.ts';

const TEXT_ENDPOINTS: ReadonlySet<BatchEndpoint> = new Set(['/v1/chat/completions', '/v1/responses', '/v1/completions']);

/** What fills one gap between the template's constant pieces. */
const Slot = { LineId: 0, RequestId: 1, BodyHex: 2, CustomId: 3, Reply: 4, InputTokens: 5, OutputTokens: 6, TotalTokens: 7 } as const;
type Slot = (typeof Slot)[keyof typeof Slot];

// Characters of Unicode's private use area stand in for strings (JSON.stringify leaves them as they are),
// numbers no count reaches for the token counts.
const MARKER_IDS: LineIds = { line: '\uE000', request: '\uE001', body: '\uE002' };
const MARKER_CUSTOM_ID = '\uE003';
const MARKER_REPLY = '\uE004';
const MARKER_INPUT = 900_719_925_474_091;
const MARKER_OUTPUT = 900_719_925_474_093;
const MARKERS = new Map<string, Slot>([
  ['\uE000', Slot.LineId],
  ['\uE001', Slot.RequestId],
  ['\uE002', Slot.BodyHex],
  ['\uE003', Slot.CustomId],
  ['\uE004', Slot.Reply],
  [String(MARKER_INPUT), Slot.InputTokens],
  [String(MARKER_OUTPUT), Slot.OutputTokens],
  [String(MARKER_INPUT + MARKER_OUTPUT), Slot.TotalTokens],
]);
const MARKER_PATTERN = new RegExp([...MARKERS.keys()].join('|'), 'g');

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, lone surrogates (pairs pass it too). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as it reads inside a JSON string. */
function escaped(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text).slice(1, -1) : text;
}

function escapedBytes(text: string): number {
  return NEEDS_ESCAPE.test(text) ? Buffer.byteLength(JSON.stringify(text)) - 2 : Buffer.byteLength(text);
}

function digits(value: number): number {
  return value < 10 ? 1 : String(value).length;
}

/** A whole number ≥ 0 as ASCII digits at `at`; returns the offset after them. */
function writeDigits(value: number, target: Uint8Array, at: number): number {
  const end = at + digits(value);
  let rest = value;
  for (let i = end - 1; i >= at; i--) {
    target[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return end;
}

export class AnswerTemplate {
  /** The constant bytes around the slots: one more piece than there are slots. */
  private readonly pieces: Buffer[];
  private readonly slots: Slot[];
  private readonly constantBytes: number;

  private constructor(pieces: Buffer[], slots: Slot[]) {
    this.pieces = pieces;
    this.slots = slots;
    this.constantBytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
  }

  /** The template of a batch's answered lines, or null when its endpoint (or a marker in its model's name) rules one out. */
  static compile(endpoint: BatchEndpoint, ctx: RenderContext): AnswerTemplate | null {
    if (!TEXT_ENDPOINTS.has(endpoint)) return null;
    const marked = JSON.stringify(renderAnswer(planWith(MARKER_CUSTOM_ID, MARKER_REPLY, MARKER_INPUT, MARKER_OUTPUT), ctx, MARKER_IDS));
    const pieces: Buffer[] = [];
    const slots: Slot[] = [];
    let from = 0;
    for (const match of marked.matchAll(MARKER_PATTERN)) {
      pieces.push(Buffer.from(marked.slice(from, match.index)));
      slots.push(MARKERS.get(match[0]) as Slot);
      from = match.index + match[0].length;
    }
    pieces.push(Buffer.from(marked.slice(from)));
    const template = new AnswerTemplate(pieces, slots);
    // A probe of everything JSON escapes or encodes in more than one byte: the template must write what the generic path writes.
    const probe = planWith('probe "\\ \u00e9\u6771 \ud83d\ude42 \u0001', 'reply "\\\n\t \u00e9\u6771 \ud83d\ude42 \u2028', 12, 3456);
    const key = keyOf('probe');
    const expected = Buffer.from(JSON.stringify(renderAnswer(probe, ctx, lineIdsFromKey(key))));
    const written = Buffer.alloc(template.byteLength(probe));
    const end = template.write(probe, key, written, 0);
    return end === written.length && written.equals(expected) ? template : null;
  }

  /** The UTF-8 bytes of an answered request's line (`plan.failure` null), without its newline. */
  byteLength(plan: RequestPlan): number {
    let bytes = this.constantBytes;
    for (const slot of this.slots) {
      switch (slot) {
        case Slot.LineId:
        case Slot.RequestId:
          bytes += ID_HEX_LENGTH;
          break;
        case Slot.BodyHex:
          bytes += BODY_ID_HEX_LENGTH;
          break;
        case Slot.CustomId:
          bytes += escapedBytes(plan.customId);
          break;
        case Slot.Reply:
          bytes += escapedBytes(plan.reply ?? '');
          break;
        case Slot.InputTokens:
          bytes += digits(plan.inputTokens);
          break;
        case Slot.OutputTokens:
          bytes += digits(plan.outputTokens);
          break;
        default:
          bytes += digits(plan.inputTokens + plan.outputTokens);
      }
    }
    return bytes;
  }

  /**
   * Writes the line of an answered request, its ids made from `key` (the
   * line's, as lineIdsOf makes it), into `target` at `at`, which has room for
   * byteLength(plan) bytes; returns the offset after it.
   */
  write(plan: RequestPlan, key: StableKey, target: Buffer, at: number): number {
    const { pieces, slots } = this;
    target.set(pieces[0], at);
    let end = at + pieces[0].length;
    for (let i = 0; i < slots.length; i++) {
      switch (slots[i]) {
        case Slot.LineId:
          end = writeHexOf(key, LINE_ID_SALT, ID_HEX_LENGTH, target, end);
          break;
        case Slot.RequestId:
          end = writeHexOf(key, REQUEST_ID_SALT, ID_HEX_LENGTH, target, end);
          break;
        case Slot.BodyHex:
          end = writeHexOf(key, BODY_ID_SALT, BODY_ID_HEX_LENGTH, target, end);
          break;
        case Slot.CustomId:
          end += target.write(escaped(plan.customId), end, 'utf8');
          break;
        case Slot.Reply:
          end += target.write(escaped(plan.reply ?? ''), end, 'utf8');
          break;
        case Slot.InputTokens:
          end = writeDigits(plan.inputTokens, target, end);
          break;
        case Slot.OutputTokens:
          end = writeDigits(plan.outputTokens, target, end);
          break;
        default:
          end = writeDigits(plan.inputTokens + plan.outputTokens, target, end);
      }
      const piece = pieces[i + 1];
      target.set(piece, end);
      end += piece.length;
    }
    return end;
  }
}

function planWith(customId: string, reply: string, inputTokens: number, outputTokens: number): RequestPlan {
  return { customId, line: 1, inputTokens, outputTokens, failure: null, reply, inputCount: 1, dimensions: 0, base64: false, media: null };
}
