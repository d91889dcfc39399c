// The official openai SDK, unchanged, against the embedded emulator: upload,
// create a batch, wait for it, read the output.
// usage: node examples/emulator-with-openai-sdk.ts
import OpenAI, { toFile } from 'openai';
import { startEmulator } from 'batchline/emulator';

const emulator = await startEmulator({ batchDurationMs: 200 });
try {
  const client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey: 'any-key' });
  const lines = ['penguin lifecycle', 'penguin mating habits', 'penguin species'].map((topic, i) =>
    JSON.stringify({
      custom_id: `request-${i + 1}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: `Three paragraphs on the ${topic}.` }] },
    }),
  );
  const file = await client.files.create({
    file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'batchinput.jsonl'),
    purpose: 'batch',
  });
  let batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    metadata: { job: 'penguins' },
  });
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    batch = await client.batches.retrieve(batch.id);
  }
  console.log(batch.id, batch.status, batch.request_counts);
  const output = await (await client.files.content(batch.output_file_id!)).text();
  for (const line of output.trim().split('\n')) {
    const { custom_id, response } = JSON.parse(line);
    console.log(custom_id, response.status_code, response.body.choices[0].message.content);
  }
} finally {
  await emulator.close();
}
