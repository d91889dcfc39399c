/** Shard files made the way a run makes them (parse → validate → shard), and reading stored files back. */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { fetch as undiciFetch } from 'undici';
import { createSharder } from '../../src/streams/shard.ts';
import { createValidator } from '../../src/streams/validate.ts';
import { parseSource } from '../../src/streams/parse.ts';
import type { EmulatorHandle } from '../../src/emulator/index.ts';
import type { ShardDescriptor } from '../../src/types.ts';
import { collect } from './streams.ts';

/**
 * One shard per entry of `requestBytes`: `perShard` chat requests each about
 * that many bytes long, so shards of different sizes come out, in order.
 */
export async function makeShards(dir: string, requestBytes: number[], perShard = 20): Promise<ShardDescriptor[]> {
  const requests: object[] = [];
  requestBytes.forEach((size, shard) => {
    for (let i = 0; i < perShard; i++) {
      const id = `s${shard}-r${i}`;
      requests.push({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${id} ${'x'.repeat(size)}` }] } });
    }
  });
  const shards: ShardDescriptor[] = [];
  await pipeline(parseSource(requests), createValidator(), createSharder({ dir, maxRequests: perShard }), collect(shards));
  return shards.sort((a, b) => a.index - b.index);
}

/** The sha256 of a file as the emulator stores it (read from its store: no faults on the way). */
export async function storedSha256(emulator: EmulatorHandle, fileId: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of emulator.files.read(fileId)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Requests per `METHOD path` that a client built with `fetch: counter.fetch` sent (through undici's fetch, as ApiClient's own SDK does). */
export function requestCounter(): { fetch: typeof fetch; counts: Map<string, number>; count(method: string, path: string | RegExp): number } {
  const counts = new Map<string, number>();
  return {
    counts,
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const key = `${init?.method ?? 'GET'} ${url.pathname}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return (undiciFetch as unknown as typeof fetch)(input, init);
    },
    count(method, path) {
      let total = 0;
      for (const [key, n] of counts) {
        const [m, p] = key.split(' ');
        if (m === method && (typeof path === 'string' ? p === path : path.test(p))) total += n;
      }
      return total;
    },
  };
}

/**
 * The process's active resources once sockets and file operations have
 * wound down (waited for, up to 2 s), less tap's own pipes: what an aborted
 * operation left behind. Call it after the emulator is closed.
 */
export async function lingeringResources(): Promise<string[]> {
  const busy = (name: string) => name === 'TCPSocketWrap' || name === 'FSReqPromise' || name === 'FSReqCallback' || name === 'CloseReq';
  const deadline = performance.now() + 2000;
  while (process.getActiveResourcesInfo().some(busy) && performance.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.getActiveResourcesInfo().filter((name) => name !== 'PipeWrap');
}
