// Feed rows from a database cursor (here an async generator stands in for one)
// straight into the stages: no JSONL in between, constant memory.
// usage: node examples/database-cursor.ts shards/
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createSharder, createValidator, parseSource, type ShardDescriptor } from 'batchline';

interface TicketRow {
  id: number;
  subject: string;
}

// With `pg-query-stream` this is `client.query(new QueryStream('SELECT id, subject FROM tickets'))`.
async function* ticketCursor(): AsyncGenerator<TicketRow> {
  for (let id = 1; id <= 1_000; id++) yield { id, subject: `Printer ${id} is out of toner` };
}

const dir = process.argv[2] ?? 'shards';
await pipeline(
  parseSource(ticketCursor()), // rows become {line, value}; line = position in the cursor
  createValidator<TicketRow>({
    build: {
      customId: (row) => `ticket-${row.id}`,
      endpoint: '/v1/chat/completions',
      body: (row) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Classify: ${row.subject}` }] }),
    },
  }),
  createSharder({ dir, maxRequests: 400 }),
  new Writable({
    objectMode: true,
    write(shard: ShardDescriptor, _encoding, done) {
      console.log(`${shard.path}: rows ${shard.firstLine}…${shard.lastLine}`);
      done();
    },
  }),
);
