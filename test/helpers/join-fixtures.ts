import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BatchResultLine, JoinedResult, ResultStatus } from '../../src/types.ts';

export function request(customId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', ...extra } });
}

/** The result line the Batch API would write for a request that ended with `status`. */
export function resultFor(customId: string, status: Exclude<ResultStatus, 'missing'>, tag = ''): BatchResultLine {
  const id = `batch_req_${Buffer.from(customId).toString('hex').slice(0, 16)}${tag}`;
  switch (status) {
    case 'succeeded':
      return { id, custom_id: customId, response: { status_code: 200, request_id: `req_${tag}`, body: { answer: customId + tag } }, error: null };
    case 'rejected':
      return { id, custom_id: customId, response: { status_code: 400, request_id: 'req', body: { error: { message: 'bad' } } }, error: null };
    case 'expired':
      return { id, custom_id: customId, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } };
    case 'cancelled':
      return { id, custom_id: customId, response: null, error: { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' } };
    case 'failed':
      return { id, custom_id: customId, response: null, error: { code: 'server_error', message: 'boom' } };
  }
}

export function jsonl(lines: unknown[]): string {
  return lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + (lines.length ? '\n' : '');
}

/** A temp directory for one test, removed at teardown. */
export function scratch(t: { teardown(fn: () => void): void }): { dir: string; file(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'join-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    file(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('batchline-join-'));
}

export async function collect(results: AsyncIterable<JoinedResult>): Promise<JoinedResult[]> {
  const out: JoinedResult[] = [];
  for await (const result of results) out.push(result);
  return out;
}

/** A stream that delivers `text` in chunks of `size` bytes (to cross every boundary). */
export function chunked(text: string, size: number): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks, { objectMode: false });
}
