import t from 'tap';
import { hash32, seededRandom, shuffleInPlace, stableHex } from '../src/core/seeded-random.ts';
import { estimateTokens } from '../src/core/tokens.ts';
import type { RenderContext } from '../src/emulator/answers/request-plan.ts';
import { renderAnswer, renderUnfinished } from '../src/emulator/answers/answer-lines.ts';
import { planRequest } from '../src/emulator/answers/responder.ts';
import { BatchEngine } from '../src/emulator/batches/engine.ts';
import { chatLine, putInput, readLines, runToEnd, startEngine } from './helpers/batch-fixtures.ts';

const ctx = (endpoint: RenderContext['endpoint']): RenderContext => ({ batchId: 'batch_x', endpoint, model: 'm', created: 1_700_000_000, seed: 1 });

t.test('seeded randomness is deterministic and a shuffle is a permutation', async (t) => {
  t.equal(hash32('r1', 1), hash32('r1', 1));
  t.not(hash32('r1', 1), hash32('r2', 1));
  t.not(hash32('r1', 1), hash32('r1', 2));
  const a = seededRandom(5);
  const b = seededRandom(5);
  const first = [a(), a(), a()];
  t.same(first, [b(), b(), b()]);
  t.ok(first.every((x) => x >= 0 && x < 1));
  const items = Array.from({ length: 1000 }, (_, i) => i);
  const shuffled = shuffleInPlace([...items], 9);
  t.same([...shuffled].sort((x, y) => x - y), items, 'same items');
  t.notSame(shuffled, items, 'another order');
  t.same(shuffleInPlace([...items], 9), shuffled, 'the same seed, the same order');
  t.match(stableHex('abc'), /^[0-9a-f]{32}$/);
  t.equal(stableHex('abc'), stableHex('abc'));
  t.not(stableHex('abc'), stableHex('abd'));
});

t.test('token estimates count text a model reads, about four characters a token', async (t) => {
  t.equal(estimateTokens({ messages: [{ role: 'user', content: 'x'.repeat(40) }] }), 10);
  t.equal(estimateTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(8) }] }] }), 2);
  t.equal(estimateTokens({ input: [[1, 2, 3], [4, 5]] }), 5, 'token ids count one each');
  t.equal(estimateTokens({ input: '' }), 1, 'never zero');
});

t.test('a plan honours errorRate by custom_id and the answer caps at max tokens', async (t) => {
  const body = { model: 'm', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 3 };
  const plan = planRequest('/v1/chat/completions', 'c1', 1, body, { seed: 1, errorRate: 0 });
  t.equal(plan.outputTokens, 3);
  t.equal(plan.failure, null);
  t.equal(planRequest('/v1/chat/completions', 'c1', 1, body, { seed: 1, errorRate: 1 }).failure, 'invalid_request');
  t.equal(planRequest('/v1/chat/completions', 'c1', 1, body, { seed: 1, errorRate: 1, transientErrorRate: 1 }).failure, 'invalid_request', 'a permanent failure wins');
  t.equal(planRequest('/v1/chat/completions', 'c1', 1, body, { seed: 1, errorRate: 0, transientErrorRate: 1, batchId: 'batch_a' }).failure, 'server_error');
  const answer = renderAnswer(plan, ctx('/v1/chat/completions'));
  t.same(answer, renderAnswer(plan, ctx('/v1/chat/completions')), 'rendering is deterministic');
  t.match(answer, { custom_id: 'c1', error: null, response: { status_code: 200, body: { usage: { completion_tokens: 3 } } } });
  t.match(renderUnfinished(plan, ctx('/v1/chat/completions'), 'batch_expired'), { id: answer.id, custom_id: 'c1', response: null, error: { code: 'batch_expired' } });
});

t.test('embeddings honour dimensions and base64 encoding', async (t) => {
  const plan = planRequest('/v1/embeddings', 'e', 1, { model: 'm', input: 'hi', dimensions: 4, encoding_format: 'base64' }, { seed: 1, errorRate: 0 });
  const body = renderAnswer(plan, ctx('/v1/embeddings')).response!.body as { data: Array<{ embedding: string }> };
  const floats = new Float32Array(new Uint8Array(Buffer.from(body.data[0].embedding, 'base64')).buffer);
  t.equal(floats.length, 4);
  t.ok(Math.abs(Math.hypot(...floats) - 1) < 1e-3);
});

t.test('output_expires_after sets the expiry of the result files', async (t) => {
  const fixture = await startEngine();
  const { engine, store } = fixture;
  t.teardown(() => engine.close());
  t.ok(engine instanceof BatchEngine, 'exported from the package');
  const fileId = await putInput(store, [chatLine('a')]);
  const created = await engine.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', output_expires_after: { anchor: 'created_at', seconds: 7200 } });
  const { batch } = await runToEnd(fixture, created.id);
  const file = store.get(batch.output_file_id!)!;
  t.equal(file.expires_at, file.created_at + 7200);
  t.equal((await readLines(store, batch.output_file_id)).length, 1);
});
