// Shard a JSONL file of Batch API requests into upload-ready files.
// usage: node examples/shard-a-file.ts requests.jsonl shards/
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createParser, createSharder, createValidator, type ShardDescriptor } from 'batchline';

const [input = 'requests.jsonl', dir = 'shards'] = process.argv.slice(2);

await pipeline(
  createReadStream(input),
  createParser(), // JSONL bytes → {line, value, bytes}
  createValidator({ routeByEndpoint: true }), // Batch API rules, unique custom_ids
  createSharder({ dir, maxRequests: 50_000, maxBytes: 200_000_000 }), // one endpoint + model per file
  new Writable({
    objectMode: true,
    write(shard: ShardDescriptor, _encoding, done) {
      console.log(`${shard.path}: ${shard.requests} requests, ${shard.bytes} bytes, ${shard.model}`);
      done();
    },
  }),
);
