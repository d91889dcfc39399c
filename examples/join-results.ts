// Join downloaded output and error files back to the input, in input order,
// writing JSONL to a file and handing each result to a callback (a database insert).
// usage: node examples/join-results.ts input.jsonl joined.jsonl output.jsonl errors.jsonl …
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCallbackSink, createJoiner, createJsonlSink, type JoinedResult } from 'batchline';
import { createReadStream } from 'node:fs';

const [input, joinedPath, ...resultFiles] = process.argv.slice(2);
const counts = new Map<string, number>();

async function saveRow(result: JoinedResult): Promise<void> {
  // e.g. await pg.query('UPDATE tickets SET answer = $1 WHERE id = $2', [...])
  counts.set(result.status, (counts.get(result.status) ?? 0) + 1);
}

const joiner = createJoiner({ results: resultFiles });
const toFile = createJsonlSink(joinedPath);
const toDatabase = createCallbackSink(saveRow);
// One joined stream, two sinks: the tee honours the slower one's backpressure.
const tee = new PassThrough({ objectMode: true });
await Promise.all([
  pipeline(createReadStream(input), joiner, tee),
  pipeline(tee, toFile),
  pipeline(tee, toDatabase),
]);
console.log(`joined ${joiner.stats.requests} requests:`, Object.fromEntries(counts));
