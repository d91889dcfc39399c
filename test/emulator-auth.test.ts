import t from 'tap';
import OpenAI, { toFile } from 'openai';
import { chatLines, emulatorWithClient, rejection } from './helpers/emulator.ts';

const KEY = 'sk-emulator-secret-4242';

t.test('with an api key set, every route needs the bearer token', async (t) => {
  const logged: string[] = [];
  const { emulator, client } = await emulatorWithClient(t, { apiKey: KEY, log: (line) => logged.push(line) }, { apiKey: KEY });
  const file = await client.files.create({ file: await toFile(Buffer.from(chatLines(['a'])), 'a.jsonl'), purpose: 'batch' });
  t.equal((await client.files.retrieve(file.id)).id, file.id, 'the right key is accepted');

  const wrong = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  for (const call of [
    () => wrong.files.list(),
    () => wrong.files.retrieve(file.id),
    () => wrong.files.content(file.id),
    () => wrong.batches.list(),
    () => wrong.uploads.create({ bytes: 1, filename: 'x.jsonl', mime_type: 'text/jsonl', purpose: 'batch' }),
  ]) {
    const err = await rejection(call());
    t.equal(err.status, 401);
    t.equal(err.constructor.name, 'AuthenticationError');
    t.equal(err.error.code, 'invalid_api_key');
    t.notMatch(JSON.stringify(err.error), /sk-wrong|sk-emulator/, 'neither key is echoed');
  }
  const upload = await rejection(wrong.files.create({ file: await toFile(Buffer.from(chatLines(['b'])), 'b.jsonl'), purpose: 'batch' }));
  t.equal(upload.status, 401);
  t.same((await client.files.list()).data.map((f) => f.id), [file.id], 'a refused upload stores nothing');

  const bare = await fetch(`${emulator.url}/v1/files`);
  t.equal(bare.status, 401);
  const body = (await bare.json()) as { error: { code: string | null; param: string | null; type: string; message: string } };
  t.equal(body.error.code, null, 'no key at all: the code is null, as the service sends it');
  t.equal(body.error.param, null);
  t.equal(body.error.type, 'invalid_request_error');
  t.match(body.error.message, /Authorization header using Bearer auth/);

  const notBearer = await fetch(`${emulator.url}/v1/files`, { headers: { authorization: `Basic ${KEY}` } });
  t.equal(notBearer.status, 401, 'only Bearer auth counts');
  const unknownRoute = await fetch(`${emulator.url}/v1/unknown`);
  t.equal(unknownRoute.status, 401, 'auth comes before routing, so routes are not revealed');
  t.notMatch(logged.join('\n'), KEY, 'the key never reaches the log');
});

t.test('without an api key, any token or none is accepted', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  t.equal((await fetch(`${emulator.url}/v1/files`)).status, 200);
  t.equal((await fetch(`${emulator.url}/v1/files`, { headers: { authorization: 'Bearer anything' } })).status, 200);
});
