import t from 'tap';
import { checkInputFile, InputChecker } from '../src/emulator/batches/input-check.ts';
import type { FileStore } from '../src/emulator/store/file-store.ts';
import { chatLine, chatLines, isAbsentFileId, putInput, startEngine, waitForStatus, TERMINAL } from './helpers/batch-fixtures.ts';

const endpoint = '/v1/chat/completions';

t.test('each malformed line fails the batch with its code and 1-based line', async (t) => {
  const { engine, store } = await startEngine();
  t.teardown(() => engine.close());
  const good = (id: string) => chatLine(id);
  const cases: Array<[string, Array<Record<string, unknown> | string>, { code: string; line: number | null; param?: string | null }]> = [
    ['invalid JSON', [good('a'), '{"custom_id": "b", "method": "POST",', good('c')], { code: 'invalid_json_line', line: 2 }],
    ['a JSON array', [good('a'), good('b'), '[1,2]'], { code: 'invalid_json_line', line: 3 }],
    ['a blank line', [good('a'), '', good('c')], { code: 'invalid_json_line', line: 2 }],
    ['missing custom_id', [good('a'), { ...good('b'), custom_id: undefined }], { code: 'missing_required_parameter', line: 2, param: 'custom_id' }],
    ['duplicate custom_id', [good('a'), good('b'), good('a')], { code: 'duplicate_custom_id', line: 3, param: 'custom_id' }],
    ['url not the endpoint', [good('a'), { ...good('b'), url: '/v1/embeddings' }], { code: 'url_mismatch', line: 2, param: 'url' }],
    ['method GET', [{ ...good('a'), method: 'GET' }], { code: 'invalid_method', line: 1, param: 'method' }],
    ['mixed models', [good('a'), good('b'), chatLine('c', 'hi', 'gpt-4o')], { code: 'model_mismatch', line: 3, param: 'body.model' }],
    ['missing body', [good('a'), { custom_id: 'b', method: 'POST', url: endpoint }], { code: 'missing_required_parameter', line: 2, param: 'body' }],
    ['missing model', [{ custom_id: 'a', method: 'POST', url: endpoint, body: { messages: [] } }], { code: 'missing_required_parameter', line: 1, param: 'body.model' }],
  ];
  for (const [name, lines, expected] of cases) {
    const fileId = await putInput(store, lines);
    const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
    const { batch, seen } = await waitForStatus(engine, created.id, TERMINAL);
    t.equal(batch.status, 'failed', `${name}: failed`);
    t.same(seen, ['validating', 'failed'], `${name}: never ran`);
    t.ok(batch.failed_at !== null && batch.in_progress_at === null, `${name}: failed_at set`);
    t.match(batch.errors, { object: 'list', data: [expected] }, name);
    t.equal(batch.errors!.data.length, 1, `${name}: one error`);
    t.equal(typeof batch.errors!.data[0].message, 'string');
    t.same(batch.request_counts, { total: 0, completed: 0, failed: 0 });
    t.ok(isAbsentFileId(batch.output_file_id) && isAbsentFileId(batch.error_file_id), `${name}: no result files`);
  }
});

t.test('every bad line is reported, up to a cap', async (t) => {
  const lines: Array<Record<string, unknown> | string> = [];
  for (let i = 1; i <= 300; i++) lines.push(i % 2 === 0 ? 'not json' : chatLine(`r${i}`));
  const { engine, store } = await startEngine();
  t.teardown(() => engine.close());
  const fileId = await putInput(store, lines);
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  const { batch } = await waitForStatus(engine, created.id, TERMINAL);
  const data = batch.errors!.data;
  t.equal(data.length, 100);
  t.same(data.slice(0, 3).map((e) => e.line), [2, 4, 6]);
  t.equal(data[99].line, 200);
});

t.test('an empty file fails with empty_file', async (t) => {
  const { engine, store } = await startEngine();
  t.teardown(() => engine.close());
  const fileId = (await store.create({ filename: 'empty.jsonl', purpose: 'batch' }, (async function* () {})())).id;
  const created = await engine.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
  const { batch } = await waitForStatus(engine, created.id, TERMINAL);
  t.match(batch.errors!.data, [{ code: 'empty_file', line: null }]);
});

t.test('more than 50,000 requests fails with too_many_tasks at line 50,001; exactly 50,000 runs', async (t) => {
  // A long run: the 50,000-request batch only has to get past validation, not write its results.
  const { engine, store, clock } = await startEngine({ batchDurationMs: 1_000_000 });
  t.teardown(() => engine.close());
  const line = (i: number) => `{"custom_id":"${i}","method":"POST","url":"/v1/embeddings","body":{"model":"e","input":"x"}}`;
  const within = await putInput(store, Array.from({ length: 50_000 }, (_, i) => line(i)));
  const over = await putInput(store, Array.from({ length: 50_001 }, (_, i) => line(i)));
  const ok = await engine.create({ input_file_id: within, endpoint: '/v1/embeddings', completion_window: '24h' });
  const bad = await engine.create({ input_file_id: over, endpoint: '/v1/embeddings', completion_window: '24h' });
  const failed = await waitForStatus(engine, bad.id, TERMINAL, 20_000);
  t.match(failed.batch, { status: 'failed', errors: { data: [{ code: 'too_many_tasks', line: 50_001 }] } });
  t.equal(failed.batch.errors!.data.length, 1);
  const deadline = Date.now() + 20_000;
  while (engine.retrieve(ok.id).request_counts.total === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  clock.advance(100_000);
  const running = await waitForStatus(engine, ok.id, ['in_progress', ...TERMINAL]);
  t.match(running.batch, { status: 'in_progress', errors: null, request_counts: { total: 50_000 } });
});

t.test('a file over 200,000,000 bytes fails with file_too_large', async (t) => {
  const { engine, store } = await startEngine();
  t.teardown(() => engine.close());
  const fileId = await putInput(store, chatLines(2));
  // The size limit is checked from the file's byte count before a byte is read; a real 200 MB body is not needed.
  const bigView: FileStore = {
    create: (meta, content) => store.create(meta, content),
    createGenerated: (meta, body) => store.createGenerated(meta, body),
    get: (id) => {
      const file = store.get(id);
      return file && { ...file, bytes: 200_000_001 };
    },
    read: (id) => store.read(id),
    delete: (id) => store.delete(id),
    list: () => store.list(),
  };
  const result = await checkInputFile(bigView, fileId, endpoint, { seed: 1, errorRate: 0 });
  t.match(result, { ok: false, errors: [{ code: 'file_too_large', line: null }] });
  const exact = await checkInputFile(store, fileId, endpoint, { seed: 1, errorRate: 0, maxBytes: store.get(fileId)!.bytes });
  t.equal(exact.ok, true, 'a file of exactly the limit passes');
  const oneOver = await checkInputFile(store, fileId, endpoint, { seed: 1, errorRate: 0, maxBytes: store.get(fileId)!.bytes - 1 });
  t.match(oneOver, { ok: false, errors: [{ code: 'file_too_large' }] });
  void engine;
});

t.test('the line rules give the same answer at every chunk size, with CRLF and a BOM', async (t) => {
  const text = '\uFEFF' + [chatLine('a', 'é日本'), chatLine('b'), chatLine('a')].map((l) => JSON.stringify(l)).join('\r\n') + '\r\n';
  const bytes = Buffer.from(text, 'utf8');
  const { store, engine } = await startEngine();
  t.teardown(() => engine.close());
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const fileId = (await store.create({ filename: 'x.jsonl', purpose: 'batch' }, (async function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })())).id;
    const result = await checkInputFile(store, fileId, endpoint, { seed: 1, errorRate: 0 });
    t.match(result, { ok: false, errors: [{ code: 'duplicate_custom_id', line: 3 }] }, `chunk size ${size}`);
  }
});

t.test('InputChecker plans valid lines and estimates their tokens', async (t) => {
  const checker = new InputChecker('/v1/embeddings', { seed: 1, errorRate: 0 });
  checker.pushLine(Buffer.from(JSON.stringify({ custom_id: 'e1', method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: ['aaaa', 'bbbbbbbb'] } })), 1);
  checker.pushLine(Buffer.from(JSON.stringify({ custom_id: 'e2', method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: [1, 2, 3] } })), 2);
  const result = checker.result(100);
  if (!result.ok) throw new Error('expected a valid file');
  t.equal(result.model, 'm');
  t.match(result.plans, [{ customId: 'e1', line: 1, inputCount: 2, inputTokens: 3 }, { customId: 'e2', line: 2, inputCount: 1, inputTokens: 3 }]);
  t.equal(result.inputTokens, 6);
});
