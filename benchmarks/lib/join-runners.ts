/**
 * One join, run in a child process so that its peak RSS is its own:
 * `node join-runners.ts <ours|naive> <output> <input> <result>...`.
 * Prints one JSON line: {ms, maxRssMB, requests}.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import { LineSplitter } from '../../src/core/line-splitter.ts';
import { resultStatus } from '../../src/core/join/result-line.ts';
import { joinResults } from '../../src/streams/join.ts';
import { createJsonlSink } from '../../src/streams/sink.ts';
import type { BatchResultLine, JoinedResult } from '../../src/types.ts';
import { peakRssMB } from './peak-rss.ts';

async function* linesOf(path: string): AsyncGenerator<Buffer[]> {
  let batch: Buffer[] = [];
  const splitter = new LineSplitter(200_000_000, (bytes) => batch.push(bytes));
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    splitter.push(chunk as Buffer);
    yield batch;
    batch = [];
  }
  splitter.end();
  yield batch;
}

/** The obvious approach: every result into a Map, then walk the input. */
async function* naiveJoin(input: string, results: string[]): AsyncGenerator<JoinedResult> {
  const byId = new Map<string, BatchResultLine>();
  for (const path of results) {
    for await (const batch of linesOf(path)) {
      for (const bytes of batch) {
        if (bytes.length === 0) continue;
        const result = JSON.parse(bytes.toString('utf8')) as BatchResultLine;
        byId.set(result.custom_id, result);
      }
    }
  }
  let line = 0;
  for await (const batch of linesOf(input)) {
    for (const bytes of batch) {
      line++;
      if (bytes.length === 0) continue;
      const customId = (JSON.parse(bytes.toString('utf8')) as { custom_id: string }).custom_id;
      const result = byId.get(customId);
      yield {
        custom_id: customId,
        line,
        status: result ? resultStatus(result) : 'missing',
        response: result ? result.response : null,
        error: result ? result.error : null,
      };
    }
  }
}

const [mode, output, input, ...results] = process.argv.slice(2);
const started = performance.now();
let requests = 0;
async function* counted(source: AsyncIterable<JoinedResult>): AsyncGenerator<JoinedResult> {
  for await (const result of source) {
    requests++;
    yield result;
  }
}
const source = mode === 'naive' ? naiveJoin(input, results) : joinResults({ input, results, tempDir: process.env.JOIN_TEMP_DIR });
await pipeline(Readable.from(counted(source)), createJsonlSink(output));
process.stdout.write(`${JSON.stringify({ ms: Math.round(performance.now() - started), maxRssMB: Math.round(peakRssMB()), requests })}\n`);
