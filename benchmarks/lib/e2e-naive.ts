/**
 * The flow a user writes with only the openai SDK, as the Batch guide and
 * cookbook show it: read every request, write one file per 50,000, upload
 * each (files.create with a read stream), create the batches, poll them
 * every second, download each output with files.content().text(), and put
 * the answers back in input order through a Map.
 *   node e2e-naive.js <base-url> <api-key> <input> <output> <work-dir>
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { peakRssMB } from './peak-rss.ts';

const [baseURL, apiKey, input, output, workDir] = process.argv.slice(2);
const started = performance.now();
const client = new OpenAI({ baseURL, apiKey });
await mkdir(workDir, { recursive: true });

const lines = (await readFile(input, 'utf8')).split('\n').filter((line) => line.trim() !== '');
const requests = lines.map((line) => JSON.parse(line) as { custom_id: string });
const batchIds: string[] = [];
for (let start = 0, k = 0; start < lines.length; start += 50_000, k++) {
  const path = join(workDir, `part-${k}.jsonl`);
  await writeFile(path, lines.slice(start, start + 50_000).join('\n') + '\n');
  const file = await client.files.create({ file: createReadStream(path), purpose: 'batch' });
  const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  batchIds.push(batch.id);
}
const answers = new Map<string, unknown>();
for (const id of batchIds) {
  let batch = await client.batches.retrieve(id);
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    batch = await client.batches.retrieve(id);
  }
  for (const fileId of [batch.output_file_id, batch.error_file_id]) {
    if (!fileId) continue;
    const text = await (await client.files.content(fileId)).text();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const result = JSON.parse(line) as { custom_id: string };
      answers.set(result.custom_id, result);
    }
  }
}
const joined = requests.map((request) => JSON.stringify(answers.get(request.custom_id) ?? { custom_id: request.custom_id, missing: true }));
await writeFile(output, joined.join('\n') + '\n');
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds: Number(seconds.toFixed(2)), maxRssMB: peakRssMB(), requests: requests.length, succeeded: answers.size, batches: batchIds.length })}\n`);
