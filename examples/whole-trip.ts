// The whole trip through the stages: a JSONL file → shards → files on the API → batches →
// results → joined in input order. Against the embedded emulator here, failing one request in
// five; against the real API, drop the emulator and let OPENAI_API_KEY name the account.
// usage: node examples/whole-trip.ts requests.jsonl work-dir/ joined.jsonl
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ApiClient,
  createDownloader,
  createJsonlSink,
  createParser,
  createPoller,
  createSharder,
  createSubmitter,
  createUploader,
  createValidator,
  joinResults,
  type ResultChunk,
} from 'batchline';
import { startEmulator } from 'batchline/emulator';

const [input = 'requests.jsonl', dir = 'work', output = 'joined.jsonl'] = process.argv.slice(2);
const emulator = await startEmulator({ batchDurationMs: 300, faultRate: 0.2, seed: 7 });
const client = new ApiClient({ apiKey: 'sk-local', baseURL: `${emulator.url}/v1`, retry: { baseDelayMs: 20 } });

// Each shard goes up, gets its batch and is watched as soon as it is written; results come as whole lines.
const results = createReadStream(input)
  .compose(createParser())
  .compose(createValidator({ routeByEndpoint: true }))
  .compose(createSharder({ dir, maxRequests: 100 }))
  .compose(createUploader({ client }))
  .compose(createSubmitter({ client }))
  .compose(createPoller({ client, initialDelayMs: 100, onProgress: (e) => e.statusChanged && console.error(`batch ${e.shard}: ${e.status}`) }))
  .compose(createDownloader({ client }));
const lines = (async function* () {
  for await (const chunk of results as AsyncIterable<ResultChunk>) yield chunk.data;
})();

const joined = joinResults({ input, results: [lines] });
await pipeline(Readable.from(joined), createJsonlSink(output));
const { requests, succeeded, rejected, failed, missing } = joined.stats;
console.log(`${requests} results in input order → ${output}`, { succeeded, rejected, failed, missing });
await emulator.close();
