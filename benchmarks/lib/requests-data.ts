import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { seededRandom } from '../../src/core/seeded-random.ts';

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'summarise classify translate review customer invoice shipment résumé naïve café 東京 данные schedule ' +
  'quarterly revenue forecast incident report latency throughput regression dataset evaluation prompt'
).split(' ');

function text(random: () => number, bytes: number): string {
  const words: string[] = [];
  let length = 0;
  while (length < bytes) {
    const word = WORDS[Math.floor(random() * WORDS.length)];
    words.push(word);
    length += Buffer.byteLength(word) + 1;
  }
  return words.join(' ');
}

/** Line sizes: `min` bytes plus up to `spread` more, uniformly. */
export interface LineSize {
  min: number;
  spread: number;
}

/** One realistic chat-completion request line of about 1–4 KB (or of `size`). */
export function requestLine(random: () => number, index: number, size: LineSize = { min: 1024, spread: 3072 }): string {
  const target = size.min + Math.floor(random() * size.spread);
  const system = 'You are a careful assistant. Answer in JSON with the keys "label" and "reason".';
  const request = {
    custom_id: `req-${index.toString().padStart(9, '0')}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: {
      model: 'gpt-4o-mini',
      temperature: 0,
      max_tokens: 256,
      response_format: { type: 'json_object' },
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: text(random, target - 330) },
      ],
      metadata: { source: 'benchmark', row: index },
    },
  };
  return JSON.stringify(request);
}

/** Writes `megabytes` MB of requests to `path` unless a file of that size is there already. */
export async function ensureRequestFile(path: string, megabytes: number): Promise<{ bytes: number; created: boolean }> {
  const want = megabytes * 1_000_000;
  const existing = await stat(path).catch(() => undefined);
  if (existing && existing.size >= want) return { bytes: existing.size, created: false };
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  const out = createWriteStream(partial, { highWaterMark: 1024 * 1024 });
  // Seeded, so every run benchmarks the same bytes.
  const random = seededRandom(20_240_601);
  let bytes = 0;
  for (let i = 0; bytes < want; i++) {
    const line = `${requestLine(random, i)}\n`;
    bytes += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  await rename(partial, path);
  return { bytes, created: true };
}
