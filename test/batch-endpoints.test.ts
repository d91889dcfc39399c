// The endpoints of spec v2.3.0 in the request rules, and the 50,000-embedding-input limit in the shard plan.
import t from 'tap';
import { countEmbeddingInputs, MAX_BATCH_EMBEDDING_INPUTS } from '../src/core/embedding-inputs.ts';
import { checkRequest } from '../src/core/request-rules.ts';
import { ShardPlan } from '../src/core/shard-plan.ts';
import { SUPPORTED_ENDPOINTS } from '../src/types.ts';

t.test('the media endpoints are batch endpoints that need a model and a prompt', async (t) => {
  for (const url of ['/v1/images/generations', '/v1/images/edits', '/v1/videos'] as const) {
    t.ok(SUPPORTED_ENDPOINTS.includes(url), `${url} is supported`);
    const request = { custom_id: 'a', method: 'POST', url, body: { model: 'm', prompt: 'a red kite' } };
    t.same(checkRequest(request, 1), request, `${url}: model + prompt pass`);
    t.throws(() => checkRequest({ ...request, body: { model: 'm' } }, 2), { code: 'MISSING_BODY_FIELD', line: 2, message: /body\.prompt/ });
    t.throws(() => checkRequest({ ...request, body: { prompt: 'x' } }, 3), { code: 'MISSING_MODEL', line: 3 });
  }
  t.throws(() => checkRequest({ custom_id: 'a', method: 'POST', url: '/v1/audio/speech', body: { model: 'm' } }, 1), { code: 'UNSUPPORTED_ENDPOINT' });
});

t.test('embedding inputs are counted per item, a token-id array being one', async (t) => {
  t.equal(countEmbeddingInputs('one text'), 1);
  t.equal(countEmbeddingInputs(['a', 'b', 'c']), 3);
  t.equal(countEmbeddingInputs([1, 2, 3]), 1, 'one input of token ids');
  t.equal(countEmbeddingInputs([[1, 2], [3]]), 2, 'two inputs of token ids');
  t.equal(countEmbeddingInputs([]), 1);
  t.equal(MAX_BATCH_EMBEDDING_INPUTS, 50_000);
});

t.test('an embeddings shard closes before its inputs would pass maxEmbeddingInputs; other routes ignore inputs', async (t) => {
  const plan = new ShardPlan({ maxEmbeddingInputs: 10 });
  const a = plan.place('/v1/embeddings', 'e', 100, 1, 'a', 6);
  t.match(a, { opened: true, closedBefore: undefined, closedAfter: false, shard: { index: 0, embeddingInputs: 6 } });
  const b = plan.place('/v1/embeddings', 'e', 100, 2, 'b', 5);
  t.equal(b.closedBefore?.index, 0, 'shard 0 is finished: 6 + 5 inputs would pass 10');
  t.match(b, { opened: true, shard: { index: 1, embeddingInputs: 5, firstLine: 2 } });
  const c = plan.place('/v1/embeddings', 'e', 100, 3, 'c', 5);
  t.match(c, { opened: false, closedAfter: true, shard: { index: 1, embeddingInputs: 10, requests: 2 } }, 'exactly full: finished at once');
  const chat = plan.place('/v1/chat/completions', 'm', 100, 4, 'd', 50);
  t.match(chat, { opened: true, shard: { embeddingInputs: 0 } }, 'a chat request carries no embedding inputs');
  t.equal(plan.place('/v1/embeddings', 'e', 100, 5, 'e').shard.embeddingInputs, 1, 'an embeddings request counts one input when none is given');
  t.throws(() => plan.place('/v1/embeddings', 'e', 100, 6, 'huge', 11), { code: 'TOO_MANY_EMBEDDING_INPUTS', line: 6, customId: 'huge' });
  t.throws(() => new ShardPlan({ maxEmbeddingInputs: 0 }), { code: 'INVALID_OPTION', message: /maxEmbeddingInputs/ });
  t.equal(new ShardPlan().limits.maxEmbeddingInputs, 50_000, 'the API limit by default');
});
