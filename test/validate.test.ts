import t from 'tap';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ValidationError } from '../src/errors.ts';
import { UniqueIdSet } from '../src/core/unique-id-set.ts';
import { toRequest } from '../src/core/request-rules.ts';
import { createParser, parseSource } from '../src/streams/parse.ts';
import { createValidator, type ValidatorOptions } from '../src/streams/validate.ts';
import type { ValidRequest } from '../src/types.ts';
import { collect } from './helpers/streams.ts';

const chat = (id: unknown, extra: Record<string, unknown> = {}) => ({
  custom_id: id,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  ...extra,
});

async function validate(values: unknown[], options: ValidatorOptions = {}) {
  const text = values.map((v) => JSON.stringify(v)).join('\n') + '\n';
  const out: ValidRequest[] = [];
  const validator = createValidator(options);
  await pipeline(Readable.from([Buffer.from(text)]), createParser(), validator, collect(out));
  return { out, stats: validator.stats };
}

t.test('passes valid requests on with their line and original bytes', async (t) => {
  const { out, stats } = await validate([chat('a'), chat('b')]);
  t.same(
    out.map((r) => [r.line, r.value.custom_id, r.bytes?.toString()]),
    [
      [1, 'a', JSON.stringify(chat('a'))],
      [2, 'b', JSON.stringify(chat('b'))],
    ],
  );
  t.match(stats, { values: 2, requests: 2, skipped: 0, endpoint: '/v1/chat/completions', customIds: { count: 2 } });
});

t.test('rejects each broken rule with its code and line', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['INVALID_REQUEST', [1, 2]],
    ['INVALID_REQUEST', 'text'],
    ['MISSING_CUSTOM_ID', { ...chat('x'), custom_id: undefined }],
    ['INVALID_CUSTOM_ID', chat(42)],
    ['INVALID_CUSTOM_ID', chat('')],
    ['INVALID_METHOD', chat('x', { method: 'GET' })],
    ['UNSUPPORTED_ENDPOINT', chat('x', { url: '/v1/audio/speech' })],
    ['INVALID_BODY', chat('x', { body: 'hello' })],
    ['MISSING_MODEL', chat('x', { body: { messages: [] } })],
    ['MISSING_BODY_FIELD', chat('x', { body: { model: 'm' } })],
    ['MISSING_BODY_FIELD', chat('x', { body: { model: 'm', messages: 'hi' } })],
    ['MISSING_BODY_FIELD', chat('x', { url: '/v1/embeddings', body: { model: 'm' } })],
    ['MISSING_BODY_FIELD', chat('x', { url: '/v1/completions', body: { model: 'm', input: 'a' } })],
  ];
  for (const [code, bad] of cases) {
    await t.rejects(validate([chat('ok'), bad]), { code, line: 2, name: 'ValidationError' }, `${code}: ${JSON.stringify(bad)}`);
  }
  const endpoints = { '/v1/embeddings': 'input', '/v1/responses': 'input', '/v1/moderations': 'input', '/v1/completions': 'prompt' };
  for (const [url, field] of Object.entries(endpoints)) {
    const { out } = await validate([{ custom_id: 'a', method: 'POST', url, body: { model: 'm', [field]: 'x' } }]);
    t.equal(out.length, 1, `${url} takes ${field}`);
  }
});

t.test('finds the same errors at every chunk size', async (t) => {
  const text = ['\uFEFF' + JSON.stringify(chat('é')), JSON.stringify(chat('ü')), '', JSON.stringify(chat('é')), JSON.stringify(chat('x', { method: 'GET' }))].join('\r\n');
  const input = Buffer.from(text);
  let reference: string | undefined;
  for (const size of [1, 2, 3, 7, 64, 65536]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
    const out: ValidRequest[] = [];
    const validator = createValidator({ onInvalid: 'skip' });
    await pipeline(Readable.from(chunks, { objectMode: false }), createParser(), validator, collect(out));
    const view = JSON.stringify([out.map((r) => [r.line, r.value.custom_id]), validator.stats.skippedErrors.map((e) => [e.code, e.line])]);
    if (reference === undefined) reference = view;
    else t.equal(view, reference, `chunk size ${size}`);
  }
  t.equal(reference, JSON.stringify([[[1, 'é'], [2, 'ü']], [['DUPLICATE_CUSTOM_ID', 4], ['INVALID_METHOD', 5]]]));
});

t.test('rejects a duplicate custom_id far from the first, naming both lines', async (t) => {
  const values = Array.from({ length: 30_000 }, (_, i) => chat(`req-${i}`));
  values.push(chat('req-7'));
  await t.rejects(validate(values), {
    code: 'DUPLICATE_CUSTOM_ID',
    line: 30_001,
    customId: 'req-7',
    message: /already used on line 8/,
  });
});

t.test('one endpoint per run unless routing by endpoint is asked for', async (t) => {
  const embed = { custom_id: 'e', method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: 'x' } };
  await t.rejects(validate([chat('a'), embed]), { code: 'MIXED_ENDPOINTS', line: 2 });
  await t.rejects(validate([chat('a')], { endpoint: '/v1/embeddings' }), { code: 'MIXED_ENDPOINTS', line: 1 });
  const { out, stats } = await validate([chat('a'), embed], { routeByEndpoint: true });
  t.equal(out.length, 2);
  t.equal(stats.endpoint, undefined);
  t.throws(() => createValidator({ endpoint: '/v1/nope' as never }), { code: 'INVALID_OPTION' });
  t.throws(() => createValidator({ onInvalid: 'ignore' as never }), { code: 'INVALID_OPTION' });
});

t.test('skip drops nothing silently: each skipped line is counted with its error', async (t) => {
  const values = [chat('a'), chat('a'), chat('b', { method: 'PUT' }), chat('b'), { nope: true }];
  const { out, stats } = await validate(values, { onInvalid: 'skip' });
  t.same(
    out.map((r) => [r.line, r.value.custom_id]),
    [
      [1, 'a'],
      [4, 'b'],
    ],
    'an id of a skipped line stays free',
  );
  t.equal(stats.skipped, 3);
  t.same(
    stats.skippedErrors.map((e) => [e.code, e.line]),
    [
      ['DUPLICATE_CUSTOM_ID', 2],
      ['INVALID_METHOD', 3],
      ['MISSING_CUSTOM_ID', 5],
    ],
  );
  const heard: string[] = [];
  await validate(values, { onInvalid: (err) => heard.push(err.code) });
  t.same(heard, ['DUPLICATE_CUSTOM_ID', 'INVALID_METHOD', 'MISSING_CUSTOM_ID']);
  const capped = await validate(values, { onInvalid: 'skip', maxReportedErrors: 1 });
  t.equal(capped.stats.skipped, 3, 'the count stays exact past the reported cap');
  t.equal(capped.stats.skippedErrors.length, 1);
});

t.test('builds requests from database rows with toRequest and validates them', async (t) => {
  async function* cursor() {
    for (let id = 1; id <= 4; id++) yield { id, question: `q${id}` };
  }
  const out: ValidRequest[] = [];
  await pipeline(
    parseSource(cursor()),
    createValidator<{ id: number; question: string }>({
      build: {
        customId: (row) => `row-${row.id}`,
        endpoint: '/v1/chat/completions',
        body: (row) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: row.question }] }),
      },
    }),
    collect(out),
  );
  t.same(
    out.map((r) => [r.line, r.value.custom_id, r.bytes]),
    [1, 2, 3, 4].map((i) => [i, `row-${i}`, undefined]),
  );
  t.same(toRequest({ key: 7 }, { customId: 'key', endpoint: '/v1/embeddings', body: () => ({ model: 'e', input: 'x' }) }), {
    custom_id: '7',
    method: 'POST',
    url: '/v1/embeddings',
    body: { model: 'e', input: 'x' },
  });
  const broken = createValidator({
    build: {
      customId: 'id',
      endpoint: '/v1/embeddings',
      body: () => {
        throw new Error('no text');
      },
    },
  });
  await t.rejects(pipeline(parseSource([{ id: 1 }]), broken, collect([])), { code: 'INVALID_ROW', line: 1 });
});

t.test('a row with its own line and value fields is a row, not parser output', async (t) => {
  // Straight from a cursor, no parser in front: a table that happens to have `line` and `value` columns.
  const rows = [
    { id: 'doc-1', line: 7, value: 'first sentence' },
    { id: 'doc-2', line: 7, value: 'second' },
  ];
  type Row = (typeof rows)[number];
  const build = { customId: 'id' as const, endpoint: '/v1/embeddings' as const, body: (row: Row) => ({ model: 'm', input: row.value }) };
  for (const source of [() => Readable.from(rows), () => parseSource(rows)]) {
    const out: ValidRequest[] = [];
    await pipeline(source(), createValidator<Row>({ build }), collect(out));
    t.same(
      out.map((r) => [r.line, r.value.custom_id, r.value.body.input]),
      [
        [1, 'doc-1', 'first sentence'],
        [2, 'doc-2', 'second'],
      ],
    );
  }
  // Without build, such a row is checked as the request itself (and is not one).
  await t.rejects(pipeline(Readable.from([{ line: 3, value: chat('a') }]), createValidator(), collect([])), { code: 'MISSING_CUSTOM_ID', line: 1 });
  // The parser's own output is still told apart, objects and JSONL alike.
  const out: ValidRequest[] = [];
  await pipeline(parseSource([chat('x'), chat('y')]), createValidator(), collect(out));
  t.same(out.map((r) => [r.line, r.value.custom_id]), [[1, 'x'], [2, 'y']]);
});

t.test('the id set is exact: duplicates found, distinct ids never confused', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }), { maxLength: 300 }), (ids) => {
      const set = new UniqueIdSet();
      const seen = new Set<string>();
      ids.forEach((id, i) => {
        let duplicate = false;
        try {
          set.add(id, i + 1);
        } catch (err) {
          if (!(err instanceof ValidationError) || err.code !== 'DUPLICATE_CUSTOM_ID') throw err;
          duplicate = true;
        }
        if (duplicate !== seen.has(id)) throw new Error(`wrong answer for ${JSON.stringify(id)}`);
        seen.add(id);
      });
    }),
    { numRuns: 300 },
  );
  const set = new UniqueIdSet();
  for (let i = 0; i < 200_000; i++) set.add(`batch-${i}`, i + 1);
  t.equal(set.size, 200_000, 'no false duplicate among 200,000 distinct ids');
  t.throws(() => set.add('batch-199999', 1), { code: 'DUPLICATE_CUSTOM_ID' });
  // The first line of every id survives the index's growth, early and late ones alike.
  for (const i of [0, 511, 512, 1023, 1024, 65_535, 150_000, 199_999]) {
    t.throws(() => set.add(`batch-${i}`, 999_999), { message: new RegExp(`already used on line ${i + 1}$`) }, `batch-${i}`);
  }
  const perId = set.memoryBytes / set.size;
  t.ok(perId < 80, `about ${perId.toFixed(1)} bytes per 12-byte id`);
});

t.test('the id set refuses to grow past its caps with CUSTOM_ID_INDEX_FULL', async (t) => {
  const byCount = new UniqueIdSet({ maxIds: 2 });
  byCount.add('a', 1);
  byCount.add('b', 2);
  t.throws(() => byCount.add('c', 3), { code: 'CUSTOM_ID_INDEX_FULL', line: 3, name: 'OverflowError' });
  t.throws(() => byCount.add('a', 4), { code: 'DUPLICATE_CUSTOM_ID' }, 'duplicates are still found when full');
  const byBytes = new UniqueIdSet({ maxIdBytes: 5 });
  byBytes.add('abc', 1);
  t.throws(() => byBytes.add('def', 2), { code: 'CUSTOM_ID_INDEX_FULL' });
  await t.rejects(validate([chat('a'), chat('b')], { maxCustomIds: 1, onInvalid: 'skip' }), { code: 'CUSTOM_ID_INDEX_FULL' }, 'never skipped');
});
