/**
 * The lines of a batch's result files, rendered on demand from its plans: an
 * answered request of a text endpoint through the batch's answer template,
 * every other line (failures, unfinished requests, other endpoints) through
 * the generic renderer. A file is a list of plan indices in its shuffled
 * order, so its bytes can be made again, the same, on every read.
 */
import type { GeneratedBody } from '../store/file-store.ts';
import { KeyPrefix } from '../../core/seeded-random.ts';
import { lineIdsOf, lineKeyPrefix, renderAnswer, renderUnfinished } from '../answers/answer-lines.ts';
import { AnswerTemplate } from '../answers/answer-template.ts';
import type { RenderContext, RequestPlan } from '../answers/request-plan.ts';

const CHUNK_BYTES = 64 * 1024;

export class ResultLines {
  private readonly plans: readonly RequestPlan[];
  private readonly ctx: RenderContext;
  private readonly done: number;
  private readonly unfinishedCode: 'batch_cancelled' | 'batch_expired';
  private readonly template: AnswerTemplate | null;
  private readonly keys: KeyPrefix;

  /** Requests before `done` were answered; the rest are written as `unfinishedCode`. */
  constructor(plans: readonly RequestPlan[], ctx: RenderContext, done: number, unfinishedCode: 'batch_cancelled' | 'batch_expired') {
    this.plans = plans;
    this.ctx = ctx;
    this.done = done;
    this.unfinishedCode = unfinishedCode;
    this.template = AnswerTemplate.compile(ctx.endpoint, ctx);
    this.keys = new KeyPrefix(lineKeyPrefix(ctx.batchId));
  }

  /** True when every answered line of the output file has a template: its size is a sum, not a rendering. */
  get templated(): boolean {
    return this.template !== null;
  }

  private templatedLine(i: number): boolean {
    return this.template !== null && i < this.done && this.plans[i].failure === null;
  }

  /** The line of plan `i` through the generic renderer, without its newline. */
  private genericLine(i: number): string {
    const plan = this.plans[i];
    if (i >= this.done) return JSON.stringify(renderUnfinished(plan, this.ctx, this.unfinishedCode));
    return JSON.stringify(renderAnswer(plan, this.ctx, lineIdsOf(this.ctx.batchId, plan.customId)));
  }

  /** A file of these lines in the given order, one per index, each ending in `\n`, with its size summed up front. */
  body(indices: Uint32Array): GeneratedBody {
    let bytes = indices.length;
    for (const i of indices) bytes += this.templatedLine(i) ? (this.template as AnswerTemplate).byteLength(this.plans[i]) : Buffer.byteLength(this.genericLine(i));
    return { bytes, chunks: () => this.chunks(indices) };
  }

  /**
   * The same lines as chunks of up to 64 KB, rendered only as the reader
   * pulls them: a templated line byte by byte, any other encoded where it
   * lands (joining lines into one string first cost several times more).
   */
  *chunks(indices: Uint32Array): Generator<Buffer> {
    const key: [number, number] = [0, 0];
    let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let used = 0;
    for (const i of indices) {
      const plan = this.plans[i];
      const templated = this.templatedLine(i);
      const text = templated ? '' : this.genericLine(i);
      // A UTF-16 code unit never takes more than three bytes in UTF-8.
      const room = (templated ? (this.template as AnswerTemplate).byteLength(plan) : text.length * 3) + 1;
      if (used + room > chunk.length) {
        if (used > 0) yield chunk.subarray(0, used);
        chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, room));
        used = 0;
      }
      if (templated) {
        this.keys.keyInto(plan.customId, key);
        used = (this.template as AnswerTemplate).write(plan, key, chunk, used);
      } else {
        used += chunk.write(text, used, 'utf8');
      }
      chunk[used++] = 0x0a;
    }
    if (used > 0) yield chunk.subarray(0, used);
  }
}
