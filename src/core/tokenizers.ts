/**
 * gpt-tokenizer's vocabularies, loaded only when the exact estimate is
 * asked for: each is a large module (o200k_base ≈ 0.6 s and 60 MB of heap
 * and code to load, cl100k_base ≈ 0.3 s and 30 MB), so importing batchline
 * never loads one, and a run loads only those its models read with.
 */
import type { EncodingName, TextTokenCounter, Tokenizers } from './token-estimate.ts';

const loading = new Map<EncodingName, Promise<TextTokenCounter>>();

function loadOne(encoding: EncodingName): Promise<TextTokenCounter> {
  let pending = loading.get(encoding);
  if (pending === undefined) {
    // One literal import per vocabulary, so bundlers and the import graph see both.
    const module = encoding === 'cl100k_base' ? import('gpt-tokenizer/encoding/cl100k_base') : import('gpt-tokenizer/encoding/o200k_base');
    pending = module.then((loaded) => (text: string) => loaded.countTokens(text));
    loading.set(encoding, pending);
  }
  return pending;
}

/** Loads the exact counters of `encodings` (both by default), once per process. */
export async function loadTokenizers(encodings: readonly EncodingName[] = ['o200k_base', 'cl100k_base']): Promise<Tokenizers> {
  const tokenizers: Tokenizers = {};
  await Promise.all(
    [...new Set(encodings)].map(async (encoding) => {
      tokenizers[encoding] = await loadOne(encoding);
    }),
  );
  return tokenizers;
}
