// Downloaded batch results → one row per ticket in Postgres, in input order,
// each insert awaited before the next result is taken (the join waits for the
// database instead of filling memory).
// The requests came from the database, so the input to join against is the
// shard files themselves, read in order.
// usage: node examples/join-into-postgres.ts postgres://… shards/ results/
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { createCallbackSink, createJoiner, type JoinedResult } from 'batchline';

const [connectionString, shardDir = 'shards', resultDir = 'results'] = process.argv.slice(2);
const shardFiles = (await readdir(shardDir)).filter((name) => name.endsWith('.jsonl')).sort().map((name) => join(shardDir, name));
const resultFiles = (await readdir(resultDir)).filter((name) => name.endsWith('.jsonl')).map((name) => join(resultDir, name));

async function* shardsInOrder(): AsyncGenerator<Buffer> {
  for (const path of shardFiles) yield* createReadStream(path);
}
const client = new pg.Client({ connectionString });
await client.connect();
try {
  await client.query(`CREATE TABLE IF NOT EXISTS ticket_answers (
    ticket_id integer PRIMARY KEY, position integer NOT NULL, status text NOT NULL, answer text, error jsonb)`);
  const joiner = createJoiner({ results: resultFiles });
  await pipeline(
    shardsInOrder(),
    joiner,
    createCallbackSink(async (result: JoinedResult) => {
      const body = result.response?.status_code === 200 ? (result.response.body as any) : null;
      await client.query(
        `INSERT INTO ticket_answers (ticket_id, position, status, answer, error) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (ticket_id) DO UPDATE SET position = $2, status = $3, answer = $4, error = $5`,
        [
          Number(result.custom_id.replace('ticket-', '')),
          result.line,
          result.status,
          body?.choices?.[0]?.message?.content ?? null,
          result.error ?? (result.status === 'rejected' ? result.response?.body : null) ?? null,
        ],
      );
    }),
  );
  console.log(`saved ${joiner.stats.requests} answers:`, { succeeded: joiner.stats.succeeded, rejected: joiner.stats.rejected });
} finally {
  await client.end();
}
