// Rows of a Postgres table → upload-ready shard files, through a server-side
// cursor: constant memory however large the table, with backpressure all the way.
// usage: node examples/postgres-to-shards.ts postgres://user:pass@127.0.0.1/db shards/
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { createSharder, createValidator, parseSource, type ShardDescriptor } from 'batchline';

interface TicketRow {
  id: number;
  subject: string;
}

const [connectionString, dir = 'shards'] = process.argv.slice(2);
const client = new pg.Client({ connectionString });
await client.connect();
try {
  const rows = client.query(new QueryStream('SELECT id, subject FROM tickets ORDER BY id', [], { batchSize: 500 }));
  await pipeline(
    parseSource(rows),
    createValidator<TicketRow>({
      build: {
        customId: (row) => `ticket-${row.id}`,
        endpoint: '/v1/chat/completions',
        body: (row) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Classify: ${row.subject}` }] }),
      },
    }),
    createSharder({ dir, maxRequests: 500 }),
    new Writable({
      objectMode: true,
      write(shard: ShardDescriptor, _encoding, done) {
        console.log(JSON.stringify(shard)); // {index, path, bytes, requests, endpoint, model, …, sha256, md5}
        done();
      },
    }),
  );
} finally {
  await client.end();
}
