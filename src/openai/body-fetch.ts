/**
 * The fetch the SDK instances we build are given. A bodiless request marked
 * `{ fetchOptions: { [DIRECT]: true } }` — the download of a file's content —
 * is sent with `undici.request`, and the response's body stays the Node
 * Readable of the socket's own chunks (`nodeBodyOf(response)`). Through
 * fetch, each chunk went through two more streams and was first copied into
 * a concatenated buffer: a download took 1.5–2× the CPU, and the garbage grew
 * the young generation (benchmarks/RESULTS.md, transport). Other requests go
 * through the undici package's fetch (not Node's own, which keeps a streamed
 * request body in memory until the request ends, nodejs/undici#4058), and a
 * FormData body through Node's fetch (see below). Uploads stay on fetch: sent
 * directly they were no faster, their body being the SDK's web stream anyway.
 *
 * The SDK still builds every request (URL, auth, headers, timeout, signal)
 * and reads the answers it parses through the Response's web stream; the
 * marked path only changes how the bytes travel. A caller's own SDK instance
 * keeps its own fetch, which ignores the mark.
 */
import type { Readable } from 'node:stream';
import { fetch as undiciFetch, request, type Dispatcher } from 'undici';

/** The `fetchOptions` key that sends a request with undici.request. */
export const DIRECT = 'batchlineDirect';

/** The SDK request option that marks a request; the SDK's types do not know our key, and a fetch other than ours ignores it. */
export const DIRECT_REQUEST = { fetchOptions: { [DIRECT]: true } as never };

const nodeBodies = new WeakMap<Response, Readable>();

/** The Node Readable behind a response from the marked path; undefined for any other response. */
export function nodeBodyOf(response: Response): Readable | undefined {
  return nodeBodies.get(response);
}

type FetchInit = RequestInit & { [DIRECT]?: unknown; dispatcher?: Dispatcher };

/** Statuses whose Response must have a null body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

function responseHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}

/**
 * A web stream over `body` that reads nothing until someone pulls it, so the
 * Node Readable stays whole for whoever reads that instead. Only one of the
 * two may be read.
 */
function lazyWebStream(body: Readable): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Buffer> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= body[Symbol.asyncIterator]();
        const { done, value } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      cancel(reason) {
        body.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

async function directFetch(url: string, init: FetchInit): Promise<Response> {
  const response = await request(url, {
    method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: Object.fromEntries(new Headers(init.headers)),
    signal: init.signal ?? undefined,
    ...(init.dispatcher ? { dispatcher: init.dispatcher } : {}),
  });
  const { statusCode } = response;
  const headers = responseHeaders(response.headers);
  if (statusCode >= 300 && statusCode < 400 && headers.has('location')) {
    // Redirects are fetch's to follow (a compatible server may send a file's content from elsewhere).
    await response.body.dump();
    return undiciFetch(url, init as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
  }
  if (NULL_BODY_STATUSES.has(statusCode)) {
    await response.body.dump();
    return new Response(null, { status: statusCode, headers });
  }
  const result = new Response(lazyWebStream(response.body), { status: statusCode, headers });
  nodeBodies.set(result, response.body);
  return result;
}

export async function bodyFetch(input: string | URL | Request, init?: FetchInit): Promise<Response> {
  // A FormData body (the SDK's files.create with a File) is Node's own class, which only Node's fetch
  // encodes (the undici package's would send "[object FormData]"); it is in memory whole anyway.
  if (init?.body instanceof FormData) return fetch(input, init);
  if (init?.[DIRECT] === true && !(input instanceof Request) && (init.body === undefined || init.body === null)) return directFetch(String(input), init);
  return undiciFetch(input as Parameters<typeof undiciFetch>[0], init as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

/**
 * The SDK checks that a fetch encodes FormData by building a Response of one
 * with `fetch.Response`: Node's own Response, as FormData bodies go to Node's fetch.
 */
bodyFetch.Response = Response;
