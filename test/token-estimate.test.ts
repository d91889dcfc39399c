import t from 'tap';
import { countTokens as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as gpt4oChat } from 'gpt-tokenizer/model/gpt-4o';
import { countTokens as gpt4Chat } from 'gpt-tokenizer/model/gpt-4';
import { encodingForModel, estimateRequestTokens, type Tokenizers } from '../src/core/token-estimate.ts';
import { fastTextTokens, TOKEN_RATES } from '../src/core/token-rates.ts';
import { loadTokenizers } from '../src/core/tokenizers.ts';
import { estimateTokens } from '../src/core/tokens.ts';
import type { BatchRequest } from '../src/types.ts';

const tokenizers: Tokenizers = await loadTokenizers();
const exact = { estimate: 'exact', tokenizers } as const;

function request(url: BatchRequest['url'], body: BatchRequest['body']): BatchRequest {
  return { custom_id: 'r1', method: 'POST', url, body };
}

const PROSE =
  'The batch finished overnight. Every request in the file was answered, and the results came back ' +
  'in a different order than they were sent, which is why the join reads the input again to put them ' +
  'in place. Nothing was lost; two requests were refused for their length and are listed in the error file.';
const JAPANESE = 'バッチは夜のうちに終わりました。ファイルのすべての要求に答えが返り、結果は送った順とは違う順で届きました。';
const RUSSIAN = 'Пакет завершился ночью. На каждый запрос в файле пришёл ответ, а результаты вернулись в другом порядке.';
const JSON_TEXT = JSON.stringify({ id: 4711, name: 'Widget, large', price: 12.5, tags: ['blue', 'steel'], stock: { warehouse: 'north', count: 17 } });

t.test('encodingForModel: cl100k_base for gpt-3.5, gpt-4 and the embedding models, o200k_base for the rest', async (t) => {
  for (const model of ['gpt-3.5-turbo', 'gpt-3.5-turbo-0125', 'gpt-4', 'gpt-4-0613', 'gpt-4-turbo', 'gpt-4-turbo-2024-04-09', 'text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002', 'davinci-002', 'ft:gpt-3.5-turbo-0125:acme::abc123']) {
    t.equal(encodingForModel(model), 'cl100k_base', model);
  }
  for (const model of ['gpt-4o', 'gpt-4o-mini-2024-07-18', 'gpt-4.1', 'gpt-4.1-nano', 'gpt-4.5-preview', 'gpt-5', 'gpt-5-mini', 'o1', 'o3', 'o4-mini', 'ft:gpt-4o-mini-2024-07-18:acme::x', 'some-future-model', '']) {
    t.equal(encodingForModel(model), 'o200k_base', model || '(none)');
  }
});

t.test('exact: a chat request counts as gpt-tokenizer counts the chat, framing included', async (t) => {
  const messages = [
    { role: 'system' as const, content: 'You are a careful assistant. Answer in JSON.' },
    { role: 'user' as const, content: PROSE },
    { role: 'assistant' as const, content: 'Understood.' },
    { role: 'user' as const, content: JAPANESE },
  ];
  t.equal(estimateRequestTokens(request('/v1/chat/completions', { model: 'gpt-4o-mini', messages }), exact), gpt4oChat(messages));
  t.equal(estimateRequestTokens(request('/v1/chat/completions', { model: 'gpt-4', messages }), exact), gpt4Chat(messages));
  t.not(gpt4oChat(messages), gpt4Chat(messages), 'the two vocabularies differ on this chat');
});

t.test('exact: message framing is 3 a message plus its role, and 3 for the reply', async (t) => {
  const one = estimateRequestTokens(request('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: PROSE }] }), exact);
  t.equal(one, 3 + o200k('user') + o200k(PROSE) + 3);
  const named = estimateRequestTokens(request('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', name: 'ada', content: PROSE }] }), exact);
  t.equal(named - one, o200k('ada') + 1, 'a name costs its tokens and one more');
  const empty = estimateRequestTokens(request('/v1/chat/completions', { model: 'gpt-4o', messages: [] }), exact);
  t.equal(empty, 3, 'only the reply priming');
});

t.test('exact: content parts count their text; images and audio count nothing', async (t) => {
  const parts = [
    { type: 'text', text: PROSE },
    { type: 'image_url', image_url: { url: 'https://example.com/a-very-long-url-that-is-not-read-as-text.png' } },
    { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
    { type: 'text', text: RUSSIAN },
  ];
  const got = estimateRequestTokens(request('/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: parts }] }), exact);
  t.equal(got, 3 + o200k('user') + o200k(PROSE) + o200k(RUSSIAN) + 3);
});

t.test('exact: tool calls, tool definitions and a response schema add their text', async (t) => {
  const base = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Weather in Oslo?' }] };
  const plain = estimateRequestTokens(request('/v1/chat/completions', base), exact);
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Look up the weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  t.equal(estimateRequestTokens(request('/v1/chat/completions', { ...base, tools }), exact) - plain, o200k(JSON.stringify(tools)));
  const schema = { name: 'answer', schema: { type: 'object', properties: { label: { type: 'string' } } } };
  t.equal(
    estimateRequestTokens(request('/v1/chat/completions', { ...base, response_format: { type: 'json_schema', json_schema: schema } }), exact) - plain,
    o200k(JSON.stringify(schema)),
  );
  t.equal(estimateRequestTokens(request('/v1/chat/completions', { ...base, response_format: { type: 'json_object' } }), exact), plain, 'json_object mode adds nothing');
  t.equal(estimateRequestTokens(request('/v1/chat/completions', { ...base, tools: [{ limit: 10n }] }), exact), plain, 'definitions JSON cannot hold count nothing');
  const call = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] };
  const withCall = estimateRequestTokens(request('/v1/chat/completions', { ...base, messages: [...base.messages, call] }), exact);
  t.equal(withCall - plain, 3 + o200k('assistant') + o200k('get_weather') + o200k('{"city":"Oslo"}'));
});

t.test('exact: a completion prompt and an embedding input add up every item; token ids are a token each', async (t) => {
  for (const url of ['/v1/completions', '/v1/embeddings'] as const) {
    const key = url === '/v1/completions' ? 'prompt' : 'input';
    const model = url === '/v1/completions' ? 'gpt-3.5-turbo-instruct' : 'text-embedding-3-small';
    const count = (value: unknown) => estimateRequestTokens(request(url, { model, [key]: value }), exact);
    t.equal(count(PROSE), cl100k(PROSE), `${url}: a string`);
    t.equal(count([PROSE, RUSSIAN]), cl100k(PROSE) + cl100k(RUSSIAN), `${url}: strings`);
    t.equal(count([1, 2, 3, 4, 5]), 5, `${url}: token ids`);
    t.equal(count([[1, 2, 3], [4, 5]]), 5, `${url}: lists of token ids`);
  }
  t.equal(estimateRequestTokens(request('/v1/embeddings', { model: 'text-embedding-3-small', input: '' }), exact), 1, 'never less than 1');
});

t.test('exact: a response counts its instructions and input as messages, and its items', async (t) => {
  const string = estimateRequestTokens(request('/v1/responses', { model: 'gpt-4.1', instructions: 'Be brief.', input: PROSE }), exact);
  t.equal(string, 3 + (3 + o200k('system') + o200k('Be brief.')) + (3 + o200k('user') + o200k(PROSE)));
  const items = [
    { role: 'user', content: [{ type: 'input_text', text: PROSE }, { type: 'input_image', image_url: 'https://example.com/x.png' }] },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Noted.' }] },
    { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":"x"}' },
    { type: 'function_call_output', call_id: 'c1', output: 'found' },
    { type: 'reasoning', id: 'rs_1', summary: [] },
    null,
  ];
  const got = estimateRequestTokens(request('/v1/responses', { model: 'gpt-4.1', input: items }), exact);
  const want = 3 + (3 + o200k('user') + o200k(PROSE)) + (3 + o200k('assistant') + o200k('Noted.')) + o200k('lookup') + o200k('{"q":"x"}') + o200k('found');
  t.equal(got, want);
  const tools = [{ type: 'function', name: 'lookup', parameters: { type: 'object' } }];
  const format = { type: 'json_schema', name: 'a', schema: { type: 'object', properties: { ok: { type: 'boolean' } } } };
  const withDefs = estimateRequestTokens(request('/v1/responses', { model: 'gpt-4.1', input: 'hi', tools, text: { format } }), exact);
  const without = estimateRequestTokens(request('/v1/responses', { model: 'gpt-4.1', input: 'hi' }), exact);
  t.equal(withDefs - without, o200k(JSON.stringify(tools)) + o200k(JSON.stringify(format.schema)));
});

t.test('other endpoints fall back to estimateTokens, in either mode', async (t) => {
  const bodies: Array<[BatchRequest['url'], BatchRequest['body']]> = [
    ['/v1/moderations', { model: 'omni-moderation-latest', input: [{ type: 'text', text: PROSE }] }],
    ['/v1/images/generations', { model: 'gpt-image-1', prompt: 'A lighthouse at dusk', n: 2 }],
    ['/v1/videos', { model: 'sora-2', prompt: 'Waves' }],
  ];
  for (const [url, body] of bodies) {
    t.equal(estimateRequestTokens(request(url, body)), estimateTokens(body), `${url} fast`);
    t.equal(estimateRequestTokens(request(url, body), { estimate: 'exact' }), estimateTokens(body), `${url} exact, no tokenizer needed`);
  }
});

t.test('fast: within a fifth of the exact count on prose, JSON, Cyrillic and Japanese, in both vocabularies', async (t) => {
  for (const [name, text] of Object.entries({ PROSE, JSON_TEXT, RUSSIAN, JAPANESE })) {
    for (const [model, count] of [['gpt-4o-mini', o200k], ['gpt-4-turbo', cl100k]] as const) {
      const body = { model, messages: [{ role: 'user', content: text.repeat(3) }] };
      const fast = estimateRequestTokens(request('/v1/chat/completions', body));
      const reference = 3 + count('user') + count(text.repeat(3)) + 3;
      t.ok(Math.abs(fast / reference - 1) < 0.2, `${name}, ${model}: fast ${fast}, exact ${reference}`);
    }
  }
  // The plain chars ÷ 4 count is far off on Japanese; the fast one is not.
  const japanese = { model: 'gpt-4o', messages: [{ role: 'user', content: JAPANESE }] };
  t.ok(estimateRequestTokens(request('/v1/chat/completions', japanese)) > 1.8 * estimateTokens(japanese), 'Japanese costs more than chars ÷ 4');
});

t.test('fast: the vocabulary follows the model', async (t) => {
  const body = (model: string) => ({ model, messages: [{ role: 'user', content: RUSSIAN }] });
  const o200 = estimateRequestTokens(request('/v1/chat/completions', body('gpt-4o')));
  const cl100 = estimateRequestTokens(request('/v1/chat/completions', body('gpt-4')));
  t.ok(cl100 > o200 * 1.3, `cl100k reads Cyrillic in more tokens (${cl100} against ${o200})`);
  t.equal(estimateRequestTokens(request('/v1/chat/completions', { model: 42 as never, messages: [{ role: 'user', content: RUSSIAN }] })), o200, 'no model string: o200k_base');
});

t.test('fastTextTokens: rates by character class, in hundredths', async (t) => {
  const rates = TOKEN_RATES.o200k_base;
  t.equal(fastTextTokens('', 'o200k_base'), 0);
  t.equal(fastTextTokens('hello world', 'o200k_base'), (11 * rates.word * 100) / 100);
  t.equal(fastTextTokens('{"a":1}', 'o200k_base'), Math.round(100 * (4 * rates.punctuation + 2 * rates.word + 1 * rates.punctuation)) / 100);
  t.equal(fastTextTokens('a      b', 'o200k_base'), Math.round(100 * (3 * rates.word + 5 * rates.whitespaceRun)) / 100, 'a run of spaces: the first as a word character');
  t.equal(fastTextTokens('\n\n\t', 'o200k_base'), Math.round(100 * (rates.word + 2 * rates.whitespaceRun)) / 100);
  t.equal(fastTextTokens('é', 'cl100k_base'), TOKEN_RATES.cl100k_base.latinExtended);
  t.equal(fastTextTokens('Ж', 'o200k_base'), rates.otherAlphabet);
  t.equal(fastTextTokens('東', 'o200k_base'), rates.cjk);
  t.equal(fastTextTokens('ｶ', 'o200k_base'), rates.cjk, 'half-width katakana');
  t.equal(fastTextTokens('豈', 'o200k_base'), rates.cjk, 'a compatibility ideograph');
  t.equal(fastTextTokens('—', 'o200k_base'), rates.symbol);
  t.equal(fastTextTokens('\uE000', 'o200k_base'), rates.symbol, 'private use');
  t.equal(fastTextTokens('😀', 'o200k_base'), 2 * rates.surrogate, 'an emoji: two halves');
});

t.test('options: a bad mode or a missing tokenizer names the option', async (t) => {
  const chat = request('/v1/chat/completions', { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }] });
  t.throws(() => estimateRequestTokens(chat, { estimate: 'precise' as never }), { code: 'INVALID_OPTION', option: 'estimate' });
  t.throws(() => estimateRequestTokens(chat, { estimate: 'exact' }), { code: 'INVALID_OPTION', option: 'tokenizers', message: /cl100k_base/ });
  t.throws(() => estimateRequestTokens(chat, { estimate: 'exact', tokenizers: { o200k_base: tokenizers.o200k_base } }), { code: 'INVALID_OPTION', option: 'tokenizers' });
});

t.test('loadTokenizers: loads what is asked, once per process', async (t) => {
  const only = await loadTokenizers(['cl100k_base', 'cl100k_base']);
  t.same(Object.keys(only), ['cl100k_base']);
  t.equal(only.cl100k_base, tokenizers.cl100k_base, 'the same counter as before');
  t.equal(only.cl100k_base?.('hello world'), cl100k('hello world'));
  t.same(Object.keys(await loadTokenizers([])), []);
});
