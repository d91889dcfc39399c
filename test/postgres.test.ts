// The Postgres examples against a real server: rows → shards → the emulator →
// joined answers inserted back, one per ticket. .ci/run starts the server
// (scripts/start-postgres.sh) and sets BATCHLINE_TEST_PG_URL.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import t from 'tap';
import { startEmulator } from '../src/emulator/index.ts';
import { ApiClient, createFileDownloader, createPoller, createSubmitter, createUploader, type ShardDescriptor } from '../src/index.ts';

const run = promisify(execFile);
const baseUrl = process.env.BATCHLINE_TEST_PG_URL;
const TICKETS = 1_234;

t.test('Postgres rows through shards, the emulator and the joiner back into a table', { skip: baseUrl ? false : 'BATCHLINE_TEST_PG_URL is not set (.ci/run sets it)' }, async (t) => {
  const schema = `batchline_test_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`CREATE TABLE ${schema}.tickets (id integer PRIMARY KEY, subject text NOT NULL)`);
  await admin.query(
    `INSERT INTO ${schema}.tickets SELECT g, 'Printer ' || g || ' says ''PC LOAD LETTER'' — ünïcödé ✓' FROM generate_series(1, $1) g`,
    [TICKETS],
  );
  const dir = await mkdtemp(join(tmpdir(), 'batchline-pg-'));
  const emulator = await startEmulator({ batchDurationMs: 80, errorRate: 0.05, seed: 3 });
  t.teardown(async () => {
    await emulator.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  });
  const url = new URL(baseUrl!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const example = (name: string) => join(import.meta.dirname, '..', 'examples', name);

  const shardsOut = await run(process.execPath, [example('postgres-to-shards.ts'), url.href, join(dir, 'shards')]);
  const shards: ShardDescriptor[] = shardsOut.stdout.trim().split('\n').map((line) => JSON.parse(line));
  t.equal(shards.length, 3, '1,234 rows at 500 per shard');
  t.same(shards.map((s) => [s.firstLine, s.lastLine]), [[1, 500], [501, 1000], [1001, 1234]]);
  t.same(shards.map((s) => s.requests), [500, 500, 234]);
  const client = new ApiClient({ baseURL: `${emulator.url}/v1`, apiKey: 'test-key' });
  await pipeline(
    Readable.from(shards),
    createUploader({ client }),
    createSubmitter({ client, runId: 'pg-test' }),
    createPoller({ client, initialDelayMs: 20 }),
    createFileDownloader({ client, outDir: join(dir, 'results') }),
    async (downloaded) => {
      for await (const batch of downloaded) t.equal(batch.batch.status, 'completed');
    },
  );

  const joinOut = await run(process.execPath, [example('join-into-postgres.ts'), url.href, join(dir, 'shards'), join(dir, 'results')]);
  t.match(joinOut.stdout, /saved 1234 answers/);

  const { rows } = await admin.query(`SELECT ticket_id, position, status, answer, error FROM ${schema}.ticket_answers ORDER BY ticket_id`);
  t.equal(rows.length, TICKETS, 'one row per ticket');
  t.same(rows.map((r) => r.position), Array.from({ length: TICKETS }, (_, i) => i + 1), 'positions follow the cursor order');
  const rejected = rows.filter((r) => r.status === 'rejected');
  const succeeded = rows.filter((r) => r.status === 'succeeded');
  t.equal(rejected.length + succeeded.length, TICKETS);
  t.ok(rejected.length > 0 && rejected.length < TICKETS / 5, `about 5% rejected (${rejected.length})`);
  t.ok(succeeded.every((r) => typeof r.answer === 'string' && r.answer.length > 0 && r.error === null));
  t.ok(rejected.every((r) => r.answer === null && r.error !== null));
});
