import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { countEmbeddingInputs } from '../src/core/embedding-inputs.ts';
import { createParser, parseSource } from '../src/streams/parse.ts';
import { createSharder, type SharderOptions } from '../src/streams/shard.ts';
import { createValidator } from '../src/streams/validate.ts';
import type { ShardDescriptor } from '../src/types.ts';
import { chunked, collect } from './helpers/streams.ts';

const line = (id: string, model = 'm', url = '/v1/chat/completions', content = 'hi') =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url,
    body: url === '/v1/chat/completions' ? { model, messages: [{ role: 'user', content }] } : { model, input: content },
  });

async function shard(input: Buffer | string, options: Omit<SharderOptions, 'dir'>, dir: string, chunkSize = 65536, routeByEndpoint = false) {
  const out: ShardDescriptor[] = [];
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const sharder = createSharder({ dir, ...options });
  await pipeline(chunked(bytes, chunkSize), createParser(), createValidator({ routeByEndpoint }), sharder, collect(out));
  return out.sort((a, b) => a.index - b.index);
}

t.test('shards the same at every chunk size, byte-identical requests in input order', async (t) => {
  const lines = Array.from({ length: 40 }, (_, i) => line(`id-${i}`, 'm', '/v1/chat/completions', `é日本🙂 ${'x'.repeat(i)}`));
  const input = Buffer.from('\uFEFF' + lines.join('\r\n') + '\r\n\r\n');
  const root = t.testdir();
  let reference: string | undefined;
  for (const size of [1, 2, 3, 7, 64, 65536]) {
    const shards = await shard(input, { maxRequests: 7 }, `${root}/${size}`, size);
    const files = await Promise.all(shards.map((s) => readFile(s.path, 'utf8')));
    t.equal(files.join(''), lines.map((l) => l + '\n').join(''), `chunk size ${size}: requests unchanged and in order`);
    const view = JSON.stringify(shards.map(({ path: _path, ...rest }) => rest));
    if (reference === undefined) reference = view;
    else t.equal(view, reference, `chunk size ${size}: same descriptors`);
  }
  t.same(
    JSON.parse(reference as string).map((s: ShardDescriptor) => [s.index, s.requests, s.firstLine, s.lastLine]),
    [
      [0, 7, 1, 7],
      [1, 7, 8, 14],
      [2, 7, 15, 21],
      [3, 7, 22, 28],
      [4, 7, 29, 35],
      [5, 5, 36, 40],
    ],
  );
});

t.test('descriptors tell the truth: size, count and digests of the fsynced file', async (t) => {
  const dir = t.testdir();
  const input = Array.from({ length: 10 }, (_, i) => line(`r${i}`)).join('\n');
  const shards = await shard(input, { maxRequests: 4 }, dir);
  t.same(await readdir(dir), ['shard-00000.jsonl', 'shard-00001.jsonl', 'shard-00002.jsonl']);
  for (const s of shards) {
    const data = await readFile(s.path);
    t.equal(s.bytes, data.length);
    t.equal(s.requests, data.toString().split('\n').length - 1);
    t.equal(s.sha256, createHash('sha256').update(data).digest('hex'));
    t.equal(s.md5, createHash('md5').update(data).digest('hex'));
    t.match(s, { endpoint: '/v1/chat/completions', model: 'm' });
  }
});

t.test('lines larger than the write buffer and lines that fill it exactly come out intact', async (t) => {
  const lines = Array.from({ length: 30 }, (_, i) => line(`w${i}`, 'm', '/v1/chat/completions', 'é'.repeat(i * 7)));
  const input = lines.join('\n') + '\n';
  const root = t.testdir();
  for (const writeBufferBytes of [1, 64, lines[3].length + 1, 1000, 1 << 20]) {
    const shards = await shard(input, { writeBufferBytes, maxRequests: 11 }, `${root}/${writeBufferBytes}`);
    const files = await Promise.all(shards.map((s) => readFile(s.path)));
    t.equal(Buffer.concat(files).toString(), input, `write buffer of ${writeBufferBytes} bytes`);
    shards.forEach((s, i) => t.equal(s.sha256, createHash('sha256').update(files[i]).digest('hex')));
  }
});

t.test('exact limits: a shard of exactly maxBytes, one byte over, exactly maxRequests', async (t) => {
  const a = line('a');
  const b = line('b');
  const exact = a.length + 1 + b.length + 1;
  const root = t.testdir();
  const fits = await shard(`${a}\n${b}\n`, { maxBytes: exact }, `${root}/fits`);
  t.same(
    fits.map((s) => [s.bytes, s.requests]),
    [[exact, 2]],
    'exactly maxBytes is one shard',
  );
  const over = await shard(`${a}\n${b}\n`, { maxBytes: exact - 1 }, `${root}/over`);
  t.same(
    over.map((s) => [s.bytes, s.requests]),
    [
      [a.length + 1, 1],
      [b.length + 1, 1],
    ],
    'one byte over starts a second shard',
  );
  const three = [line('x'), line('y'), line('z')].join('\n');
  t.same(
    (await shard(three, { maxRequests: 3 }, `${root}/req3`)).map((s) => s.requests),
    [3],
    'exactly maxRequests is one shard',
  );
  t.same(
    (await shard(three, { maxRequests: 2 }, `${root}/req2`)).map((s) => s.requests),
    [2, 1],
  );
  const multibyte = line('é', 'm', '/v1/chat/completions', '日本語');
  const mb = await shard(multibyte, { maxBytes: Buffer.byteLength(multibyte) + 1 }, `${root}/utf8`);
  t.equal(mb[0].bytes, Buffer.byteLength(multibyte) + 1, 'bytes are UTF-8 bytes, not characters');
  await t.rejects(shard(`${a}\n${b}\n`, { maxBytes: b.length }, `${root}/too-large`), {
    code: 'REQUEST_TOO_LARGE',
    line: 1,
    customId: 'a',
  });
});

t.test('mixed models and endpoints go to separate shards, each in input order', async (t) => {
  const rows: string[] = [];
  for (let i = 0; i < 12; i++) {
    rows.push(i % 3 === 2 ? line(`e${i}`, 'emb', '/v1/embeddings') : line(`c${i}`, i % 3 === 0 ? 'big' : 'small'));
  }
  const dir = t.testdir();
  const shards = await shard(rows.join('\n'), { maxRequests: 3 }, dir, 65536, true);
  for (const s of shards) {
    const requests = (await readFile(s.path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.ok(
      requests.every((r) => r.url === s.endpoint && r.body.model === s.model),
      `shard ${s.index} holds only ${s.endpoint} ${s.model}`,
    );
  }
  const byKey = new Map<string, string[]>();
  for (const s of shards) {
    const key = `${s.endpoint} ${s.model}`;
    byKey.set(key, [...(byKey.get(key) ?? []), ...(await readFile(s.path, 'utf8')).trim().split('\n')]);
  }
  t.same(byKey.get('/v1/chat/completions big'), [0, 3, 6, 9].map((i) => line(`c${i}`, 'big')));
  t.same(byKey.get('/v1/embeddings emb'), [2, 5, 8, 11].map((i) => line(`e${i}`, 'emb', '/v1/embeddings')));
  t.equal(
    shards.reduce((n, s) => n + s.requests, 0),
    12,
  );
});

t.test('embeddings requests with many inputs split into shards of at most maxEmbeddingInputs inputs', async (t) => {
  const embed = (id: string, input: unknown) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'e', input } });
  const texts = (id: string, n: number) => Array.from({ length: n }, (_, i) => `${id}-${i}`);
  const rows = [
    embed('a', texts('a', 4)),
    embed('b', texts('b', 3)),
    embed('c', texts('c', 3)),
    embed('d', 'one text'),
    embed('e', texts('e', 5)),
    embed('f', [[1, 2], [3]]),
    embed('g', [7, 8, 9]),
    embed('h', texts('h', 2)),
    embed('i', texts('i', 2)),
  ];
  const dir = t.testdir();
  const shards = await shard(rows.join('\n'), { maxEmbeddingInputs: 5 }, dir);
  const inputsPerShard: number[][] = [];
  const ids: string[] = [];
  for (const s of shards) {
    const requests = (await readFile(s.path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    inputsPerShard.push(requests.map((r) => countEmbeddingInputs(r.body.input)));
    ids.push(...requests.map((r) => r.custom_id));
  }
  // 4 | 3 | 3 + 1 | 5 (exactly full) | 2 (token arrays) + 1 (one token-id array) + 2 | 2
  t.same(inputsPerShard, [[4], [3], [3, 1], [5], [2, 1, 2], [2]]);
  t.ok(inputsPerShard.every((inputs) => inputs.reduce((a, b) => a + b, 0) <= 5), 'no shard holds more than maxEmbeddingInputs');
  t.same(ids, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'], 'every request, in input order');

  await t.rejects(shard([embed('ok', 'x'), embed('huge', texts('huge', 6))].join('\n'), { maxEmbeddingInputs: 5 }, t.testdir()), {
    code: 'TOO_MANY_EMBEDDING_INPUTS',
    line: 2,
    customId: 'huge',
  });
});

t.test('more routes than maxOpenShards: the least recently used shard is finished, every request lands in order', async (t) => {
  // 17 models round-robin, past the default cap of 16 open shards.
  const models = Array.from({ length: 17 }, (_, m) => `model-${m}`);
  const rows = Array.from({ length: 17 * 5 }, (_, i) => line(`r${i}`, models[i % 17]));
  const dir = t.testdir();
  const shards = await shard(rows.join('\n'), {}, dir);
  const byModel = new Map<string, string[]>();
  let total = 0;
  for (const s of shards) {
    const held = (await readFile(s.path, 'utf8')).trim().split('\n');
    t.ok(held.every((l) => JSON.parse(l).body.model === s.model), `shard ${s.index} holds only ${s.model}`);
    t.equal(held.length, s.requests);
    total += held.length;
    byModel.set(s.model, [...(byModel.get(s.model) ?? []), ...held]);
  }
  t.equal(total, rows.length, 'every request written once');
  for (const model of models) {
    t.same(byModel.get(model), rows.filter((_, i) => models[i % 17] === model), `${model} in input order across its shards`);
  }
  t.same(shards.map((s) => s.index), shards.map((_, i) => i), 'indexes 0…n-1, no gaps');
  // With a cap of 2 and three routes in turn, each new route finishes the one used longest ago.
  const three = Array.from({ length: 6 }, (_, i) => line(`t${i}`, ['a', 'b', 'c'][i % 3]));
  const capped = await shard(three.join('\n'), { maxOpenShards: 2 }, `${dir}/capped`);
  t.same(
    capped.map((s) => [s.index, s.model, s.firstLine, s.lastLine]),
    [
      [0, 'a', 1, 1],
      [1, 'b', 2, 2],
      [2, 'c', 3, 3],
      [3, 'a', 4, 4],
      [4, 'b', 5, 5],
      [5, 'c', 6, 6],
    ],
  );
  // A route used again stays open: a a b a c → c finishes b (used longest ago), not a.
  const reused = ['a', 'a', 'b', 'a', 'c'].map((m, i) => line(`u${i}`, m));
  const kept = await shard(reused.join('\n'), { maxOpenShards: 2 }, `${dir}/reused`);
  t.same(
    kept.map((s) => [s.index, s.model, s.requests]),
    [
      [0, 'a', 3],
      [1, 'b', 1],
      [2, 'c', 1],
    ],
  );
});

t.test('object input is serialised once; raw lines are written as read', async (t) => {
  async function* rows() {
    for (let i = 0; i < 3; i++) yield { custom_id: `o${i}`, method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: 'é' } };
  }
  const dir = t.testdir();
  const out: ShardDescriptor[] = [];
  const sharder = createSharder({ dir });
  await pipeline(parseSource(rows()), createValidator(), sharder, collect(out));
  t.equal(await readFile(out[0].path, 'utf8'), [0, 1, 2].map((i) => line(`o${i}`, 'e', '/v1/embeddings', 'é') + '\n').join(''));
  t.match(sharder.stats, { shards: 1, requests: 3, rawRequests: 0 });
  const spaced = ' {"custom_id" : "s", "method":"POST","url":"/v1/embeddings","body":{"model":"e","input":"x"}}  ';
  const kept = await shard(spaced, {}, `${dir}/raw`);
  t.equal(await readFile(kept[0].path, 'utf8'), spaced + '\n', 'original bytes, whitespace and all');
});

t.test('object input that JSON cannot hold is INVALID_REQUEST with its line and custom_id, and leaves no file', async (t) => {
  const embedding = (id: string, extra: Record<string, unknown>) => ({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: 'x', ...extra } });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const bad: Array<[string, unknown]> = [
    ['a BigInt', embedding('b', { user_id: 1n })],
    ['a cycle', embedding('b', { meta: cyclic })],
    ['a toJSON that gives nothing', { ...embedding('b', {}), toJSON: () => undefined }],
  ];
  for (const [name, value] of bad) {
    const dir = t.testdir();
    await t.rejects(
      pipeline(parseSource([embedding('a', {}), value]), createValidator(), createSharder({ dir }), collect([])),
      { code: 'INVALID_REQUEST', name: 'ValidationError', line: 2, customId: 'b', message: /line 2 cannot be written as JSON/ },
      name,
    );
    t.same(await readdir(dir), [], `${name}: the unfinished shard is removed`);
  }
  // Rows built with `build` are serialised the same way.
  const dir = t.testdir();
  const build = { customId: 'id' as const, endpoint: '/v1/embeddings' as const, body: (row: { id: bigint }) => ({ model: 'm', input: 'hi', user_id: row.id }) };
  await t.rejects(pipeline(parseSource([{ id: 1n }]), createValidator({ build }), createSharder({ dir }), collect([])), {
    code: 'INVALID_REQUEST',
    line: 1,
    customId: '1',
  });
});

t.test('an error destroys the pipeline and removes unfinished shard files', async (t) => {
  const dir = t.testdir();
  const out: ShardDescriptor[] = [];
  async function* source() {
    for (let i = 0; i < 9; i++) yield Buffer.from(`${line(`r${i}`)}\n`);
    // The bad line comes once two shards are out, with the third still open.
    while (out.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    yield Buffer.from('{"broken":\n');
  }
  const sharder = createSharder({ dir, maxRequests: 4 });
  await t.rejects(pipeline(source(), createParser(), createValidator(), sharder, collect(out)), {
    code: 'INVALID_JSON',
    line: 10,
  });
  t.ok(sharder.destroyed);
  if (!sharder.closed) await once(sharder, 'close');
  t.same(
    out.map((s) => s.index),
    [0, 1],
    'finished shards were emitted',
  );
  t.same(await readdir(dir), ['shard-00000.jsonl', 'shard-00001.jsonl'], 'the unfinished third file is gone');
});

t.test('an abort signal stops the sharder with ABORTED and removes its unfinished files', async (t) => {
  const dir = t.testdir();
  const controller = new AbortController();
  const out: ShardDescriptor[] = [];
  async function* endless() {
    for (let i = 0; ; i++) {
      // Abort with two shards finished and a third one open.
      if (i > 450 && out.length === 2) controller.abort();
      yield { custom_id: `r${i}`, method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: 'x' } };
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const sharder = createSharder({ dir, maxRequests: 200, signal: controller.signal });
  await t.rejects(pipeline(parseSource(endless()), createValidator(), sharder, collect(out)), { code: 'ABORTED' });
  if (!sharder.closed) await once(sharder, 'close');
  t.same(
    out.map((s) => s.requests),
    [200, 200],
  );
  t.same(await readdir(dir), ['shard-00000.jsonl', 'shard-00001.jsonl']);
});

t.test('never writes over an earlier run: an existing shard file is SHARD_EXISTS and is left as it was', async (t) => {
  const dir = t.testdir();
  const first = await shard([line('a'), line('b'), line('c')].join('\n'), { maxRequests: 2 }, dir);
  const before = await Promise.all(first.map((s) => readFile(s.path, 'utf8')));
  await t.rejects(shard([line('x'), line('y'), line('z')].join('\n'), { maxRequests: 2 }, dir), {
    name: 'IoError',
    code: 'SHARD_EXISTS',
    shard: 0,
    path: `${dir}/shard-00000.jsonl`,
    syscallCode: 'EEXIST',
    message: /shard-00000\.jsonl already exists/,
  });
  t.same(await readdir(dir), ['shard-00000.jsonl', 'shard-00001.jsonl'], 'no file added');
  t.same(await Promise.all(first.map((s) => readFile(s.path, 'utf8'))), before, 'the earlier shards are untouched');
  // Here shard 0 is this run's own (open, so removed on the error) and shard 1 someone else's (kept).
  const mixed = t.testdir({ 'shard-00001.jsonl': 'not ours\n' });
  await t.rejects(shard([line('p', 'm1'), line('q', 'm2')].join('\n'), {}, mixed), { code: 'SHARD_EXISTS', shard: 1 });
  t.same(await readdir(mixed), ['shard-00001.jsonl']);
  t.equal(await readFile(`${mixed}/shard-00001.jsonl`, 'utf8'), 'not ours\n');
  const other = await shard(line('x'), { prefix: 'run2' }, dir);
  t.equal(other[0].path, `${dir}/run2-00000.jsonl`, 'another prefix shards into the same directory');
});

t.test('refuses bad options by name', async (t) => {
  t.throws(() => createSharder({} as SharderOptions), { code: 'INVALID_OPTION', option: 'dir', message: /dir/ });
  t.throws(() => createSharder({ dir: 'x', maxBytes: 0 }), { code: 'INVALID_OPTION', option: 'maxBytes', message: /maxBytes/ });
  t.throws(() => createSharder({ dir: 'x', maxRequests: 1.5 }), { code: 'INVALID_OPTION', option: 'maxRequests', message: /maxRequests/ });
  t.throws(() => createSharder({ dir: 'x', prefix: '../up' }), { code: 'INVALID_OPTION', option: 'prefix', message: /prefix/ });
  t.throws(() => createSharder({ dir: 'x', maxEmbeddingInputs: -1 }), { code: 'INVALID_OPTION', option: 'maxEmbeddingInputs' });
});
