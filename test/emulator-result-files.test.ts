import fc from 'fast-check';
import t from 'tap';
import { lineIdsFromKey, renderAnswer } from '../src/emulator/answers/answer-lines.ts';
import { AnswerTemplate } from '../src/emulator/answers/answer-template.ts';
import type { RenderContext } from '../src/emulator/answers/request-plan.ts';
import { planRequest, snippetOf } from '../src/emulator/answers/responder.ts';
import { EmulatorClock } from '../src/emulator/clock.ts';
import { DiskFileStore } from '../src/emulator/store/disk-file-store.ts';
import type { GeneratedBody } from '../src/emulator/store/file-store.ts';
import { MemoryFileStore } from '../src/emulator/store/memory-file-store.ts';
import type { BatchEndpoint } from '../src/types.ts';
import { batchEmulator, request, runToEnd, uploadJsonl } from './helpers/batch-sdk.ts';
import { tempDir } from './helpers/emulator.ts';

const TEXT_ENDPOINTS = ['/v1/chat/completions', '/v1/responses', '/v1/completions'] as const;
const ctxOf = (endpoint: BatchEndpoint, model = 'gpt-4o-mini'): RenderContext => ({ batchId: 'batch_t', endpoint, model, created: 1_700_000_000, seed: 3 });
const keys = fc.tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }));
// Text JSON escapes or writes in several bytes: quotes, backslashes, controls, U+2028, accents, CJK, emoji and lone surrogates.
const awkward = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\u0001', '\u2028', 'é', '東', '\ud83d\ude42', '\ud800', ' '), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 60 });

t.test('an answer template writes exactly the generic line\'s bytes where it is told, and knows their length without writing them', async (t) => {
  for (const endpoint of TEXT_ENDPOINTS) {
    const ctx = ctxOf(endpoint);
    const template = AnswerTemplate.compile(endpoint, ctx);
    t.ok(template, `${endpoint} has a template`);
    fc.assert(
      fc.property(awkward, awkward, fc.option(fc.integer({ min: 1, max: 40 })), keys, fc.nat(64), (customId, prompt, cap, key, at) => {
        const body = { model: 'm', messages: [{ role: 'user', content: prompt }], input: prompt, prompt, ...(cap === null ? {} : { max_tokens: cap }) };
        const plan = planRequest(endpoint, customId || 'x', 1, body, { seed: 3, errorRate: 0 });
        const expected = Buffer.from(JSON.stringify(renderAnswer(plan, ctx, lineIdsFromKey(key))));
        const target = Buffer.alloc(at + template!.byteLength(plan) + 8, 0xee);
        const end = template!.write(plan, key, target, at);
        return end === at + expected.length && target.subarray(at, end).equals(expected) && target[end] === 0xee && target.subarray(0, at).every((byte) => byte === 0xee) && template!.byteLength(plan) === expected.length;
      }),
      { numRuns: 300 },
    );
  }
  for (const endpoint of ['/v1/embeddings', '/v1/moderations', '/v1/images/generations', '/v1/videos'] as const) {
    t.equal(AnswerTemplate.compile(endpoint, ctxOf(endpoint)), null, `${endpoint}: generic lines`);
  }
  t.equal(AnswerTemplate.compile('/v1/chat/completions', ctxOf('/v1/chat/completions', 'model-\uE003')), null, 'a model named with a marker: generic lines');
});

t.test("an answer quotes the head of the prompt with white space collapsed, as /\\s+/ and trim() would", async (t) => {
  const spaces = fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u180e', '\u0085');
  const text = fc.array(fc.oneof(spaces, fc.string({ maxLength: 5 })), { maxLength: 80 }).map((parts) => parts.join(''));
  fc.assert(fc.property(text, (prompt) => snippetOf(prompt) === prompt.slice(0, 160).replace(/\s+/g, ' ').trim().slice(0, 40)), { numRuns: 3000 });
  t.equal(snippetOf('  Tell   me\n a story  '), 'Tell me a story');
});

async function download(client: { files: { content(id: string): Promise<Response> } }, id: string): Promise<Buffer> {
  return Buffer.from(await (await client.files.content(id)).arrayBuffer());
}

for (const store of ['memory', 'disk'] as const) {
  t.test(`${store}: a result file has the same bytes on every read, as many as its object says`, async (t) => {
    const stateDir = store === 'disk' ? await tempDir(t) : undefined;
    const { client, emulator } = await batchEmulator(t, { errorRate: 0.2, seed: 5, ...(stateDir ? { stateDir } : {}) });
    const customIds = ['plain', 'quo"te', 'back\\slash', 'new\nline', 'caf\u00e9', '\u6771\u4eac', 'emoji \ud83d\ude42', 'sep\u2028'];
    for (let i = 0; i < 40; i++) customIds.push(`r-${i}`);
    const cases: Array<[BatchEndpoint, (id: string) => Record<string, unknown>]> = [
      ['/v1/chat/completions', (id) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Tell me about ${id} "quoted" \u00e9\u6771` }] })],
      ['/v1/responses', (id) => ({ model: 'gpt-4.1', input: `story ${id}`, max_output_tokens: 6 })],
      ['/v1/embeddings', (id) => ({ model: 'text-embedding-3-small', input: [`a ${id}`, 'b'], dimensions: 4 })],
    ];
    for (const [endpoint, body] of cases) {
      const fileId = await uploadJsonl(client, customIds.map((id) => request(endpoint, id, body(id))));
      const created = await client.batches.create({ input_file_id: fileId, endpoint: endpoint as '/v1/chat/completions', completion_window: '24h' });
      const { batch } = await runToEnd(emulator, client, created.id);
      t.equal(batch.status, 'completed', endpoint);
      const seen: string[] = [];
      for (const id of [batch.output_file_id, batch.error_file_id]) {
        if (!id) continue;
        const first = await download(client, id);
        const second = await download(client, id);
        t.ok(first.equals(second), `${endpoint}: the same bytes on a second read`);
        t.equal(first.length, (await client.files.retrieve(id)).bytes, `${endpoint}: as many bytes as the file object says`);
        const lines = first.toString('utf8').split('\n');
        t.equal(lines.pop(), '', 'every line ends with a newline');
        for (const line of lines) seen.push(JSON.parse(line).custom_id);
      }
      t.same(seen.sort(), [...customIds].sort(), `${endpoint}: every custom_id once, read back exactly`);
    }
  });
}

t.test('a generated body that makes other than its declared bytes is an error, never a short or long file', async (t) => {
  const clock = new EmulatorClock();
  const lying = (bytes: number, chunks: Buffer[]): GeneratedBody => ({ bytes, chunks: () => chunks });
  const memory = new MemoryFileStore(clock);
  for (const body of [lying(10, [Buffer.from('12345')]), lying(3, [Buffer.from('12345')])]) {
    const file = await memory.createGenerated({ filename: 'x.jsonl', purpose: 'batch_output' }, body);
    t.equal(file.bytes, body.bytes);
    const read = async () => {
      for await (const _chunk of memory.read(file.id)) void _chunk;
    };
    await t.rejects(read(), { code: 'EMULATOR_INTERNAL_ERROR' });
  }
  const disk = await DiskFileStore.open(await tempDir(t), clock);
  await t.rejects(disk.createGenerated({ filename: 'x.jsonl', purpose: 'batch_output' }, lying(10, [Buffer.from('12345')])), { code: 'EMULATOR_INTERNAL_ERROR' });
  t.same(disk.list(), [], 'nothing is kept of a body that failed');
  const aborted = new AbortController();
  aborted.abort();
  await t.rejects(disk.createGenerated({ filename: 'x.jsonl', purpose: 'batch_output' }, lying(5, [Buffer.from('12345')]), aborted.signal), { code: 'ABORTED' });
});
