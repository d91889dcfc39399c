/** A cap on a stream of chunks, checked as they pass, so an oversized body is refused without being held. */

/** Yields the chunks unchanged and throws `tooLarge()` as soon as more than `maxBytes` have passed. */
export async function* limitBytes(content: AsyncIterable<Buffer>, maxBytes: number, tooLarge: () => Error): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of content) {
    seen += chunk.length;
    if (seen > maxBytes) throw tooLarge();
    yield chunk;
  }
}
