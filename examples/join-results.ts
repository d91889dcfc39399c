// Join downloaded output and error files back to the input, in input order:
// every result goes to a callback (a database write, awaited, so a slow
// database slows the join instead of filling memory) and to a JSONL file.
// usage: node examples/join-results.ts input.jsonl joined.jsonl output.jsonl errors.jsonl …
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createJoiner, createJsonlSink, type JoinedResult } from 'batchline';

const [input, joinedPath, ...resultFiles] = process.argv.slice(2);
const counts = new Map<string, number>();

async function saveRow(result: JoinedResult): Promise<void> {
  // e.g. await pg.query('UPDATE tickets SET answer = $1 WHERE id = $2', [...])
  counts.set(result.status, (counts.get(result.status) ?? 0) + 1);
}

const joiner = createJoiner({ results: resultFiles });
await pipeline(
  createReadStream(input),
  joiner,
  async function* (results: AsyncIterable<JoinedResult>) {
    for await (const result of results) {
      await saveRow(result);
      yield result;
    }
  },
  createJsonlSink(joinedPath),
);
console.log(`joined ${joiner.stats.requests} requests:`, Object.fromEntries(counts));
