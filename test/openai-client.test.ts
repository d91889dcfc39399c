import t from 'tap';
import OpenAI from 'openai';
import { ApiClient } from '../src/openai/client.ts';
import { ApiError, AbortError, OptionError } from '../src/errors.ts';
import { retryAfterFromHeaders, retryDelayMs, normalizeRetryPolicy, isRetryableStatus } from '../src/core/retry-policy.ts';
import { emulatorWithClient, rejection, TEST_KEY } from './helpers/emulator.ts';

const fast = { baseDelayMs: 1, maxDelayMs: 5 };

t.test('retry policy: full jitter under a doubling ceiling, never below Retry-After', async (t) => {
  const policy = normalizeRetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 });
  t.equal(retryDelayMs(policy, 1, undefined), 99);
  t.equal(retryDelayMs(policy, 3, undefined), 399);
  t.equal(retryDelayMs(policy, 10, undefined), 999);
  t.equal(retryDelayMs({ ...policy, random: () => 0 }, 4, 250), 250);
  t.equal(retryAfterFromHeaders((n) => ({ 'retry-after-ms': '1500.2', 'retry-after': '9' })[n]), 1501);
  t.equal(retryAfterFromHeaders((n) => ({ 'retry-after': '2' })[n]), 2000);
  t.equal(retryAfterFromHeaders((n) => ({ 'retry-after': new Date(10_000).toUTCString() })[n], 4_000), 6000);
  t.equal(retryAfterFromHeaders(() => undefined), undefined);
  t.equal(retryAfterFromHeaders((n) => ({ 'retry-after': 'soon' })[n]), undefined);
  t.same([400, 401, 403, 404, 422, 408, 409, 429, 500, 503].map(isRetryableStatus), [false, false, false, false, false, true, true, true, true, true]);
  t.throws(() => normalizeRetryPolicy({ maxAttempts: 0 }), { code: 'INVALID_OPTION' });
});

t.test('retries 429 (honouring Retry-After), 500, 503 and resets, then succeeds', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  for (const kind of ['429', '500', '503', 'reset-request'] as const) emulator.faults.add({ kind, match: { path: '/v1/batches' }, retryAfterSeconds: 0.05 });
  const retries: Array<{ attempt: number; code: string; delayMs: number }> = [];
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, retry: fast, onRetry: (e) => retries.push({ attempt: e.attempt, code: e.error.code, delayMs: e.delayMs }) });
  const page = await client.call({ operation: 'list batches' }, ({ options }) => client.sdk.batches.list({ limit: 1 }, options));
  t.same(page.data, []);
  t.same(retries.map((r) => r.code), ['API_RATE_LIMITED', 'API_SERVER_ERROR', 'API_SERVER_ERROR', 'API_CONNECTION']);
  t.ok(retries[0].delayMs >= 50, 'the first wait honours Retry-After');
});

t.test('never retries 400/401/404, and names the status, API code and request id', async (t) => {
  const { emulator } = await emulatorWithClient(t, { apiKey: TEST_KEY });
  let calls = 0;
  const wrongKey = new ApiClient({ apiKey: 'sk-secret-value-123', baseURL: `${emulator.url}/v1`, retry: fast });
  const unauthorized: ApiError = await rejection(wrongKey.call({ operation: 'list batches' }, ({ options }) => (calls++, wrongKey.sdk.batches.list({}, options))));
  t.equal(calls, 1);
  t.match(unauthorized, { code: 'API_UNAUTHORIZED', status: 401, retryable: false, attempts: 1 });
  t.notMatch(JSON.stringify(unauthorized.toJSON()) + unauthorized.message, /sk-secret-value-123/);
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, retry: fast });
  const missing: ApiError = await rejection(client.call({ operation: 'get batch', batchId: 'batch_nope' }, ({ options }) => client.sdk.batches.retrieve('batch_nope', options)));
  t.match(missing, { code: 'API_NOT_FOUND', status: 404, batchId: 'batch_nope', attempts: 1 });
  t.ok(missing.requestId === undefined || typeof missing.requestId === 'string');
  const bad: ApiError = await rejection(client.call({ operation: 'create batch' }, ({ options }) => client.sdk.batches.create({ input_file_id: 'file-x', endpoint: '/v1/chat/completions', completion_window: '24h' }, options)));
  t.match(bad, { code: 'API_BAD_REQUEST', status: 400, attempts: 1 });
});

t.test('gives up after maxAttempts with the last error and the count', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  emulator.faults.add({ kind: '500', match: { path: '/v1/batches' }, times: Infinity });
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, retry: { ...fast, maxAttempts: 3 } });
  const err: ApiError = await rejection(client.call({ operation: 'list batches' }, ({ options }) => client.sdk.batches.list({}, options)));
  t.match(err, { code: 'API_SERVER_ERROR', status: 500, attempts: 3, retryable: true });
});

t.test('gives up when the next wait would pass maxElapsedMs', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  emulator.faults.add({ kind: '429', match: { path: '/v1/batches' }, times: Infinity, retryAfterSeconds: 60 });
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, retry: { ...fast, maxElapsedMs: 1000 } });
  const started = Date.now();
  const err: ApiError = await rejection(client.call({ operation: 'list batches' }, ({ options }) => client.sdk.batches.list({}, options)));
  t.match(err, { code: 'API_RATE_LIMITED', attempts: 1, retryAfterMs: 60_000 });
  t.ok(Date.now() - started < 1000, 'did not sleep a wait it could not finish');
});

t.test('an abort during a back-off wait ends at once with AbortError', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  emulator.faults.add({ kind: '429', match: { path: '/v1/batches' }, times: Infinity, retryAfterSeconds: 30 });
  const client = new ApiClient({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, retry: fast });
  const controller = new AbortController();
  const pending = client.call({ operation: 'list batches' }, ({ options }) => client.sdk.batches.list({}, options), controller.signal);
  const aborted = rejection(pending);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => emulator.faults.injected.length > 0 && (clearInterval(timer), resolve()), 2);
  });
  controller.abort();
  t.type(await aborted, AbortError);
});

t.test('a user-supplied SDK instance is used, with its own retries off', async (t) => {
  const { emulator } = await emulatorWithClient(t);
  emulator.faults.add({ kind: '500', match: { path: '/v1/batches' }, times: 2 });
  const sdk = new OpenAI({ apiKey: TEST_KEY, baseURL: `${emulator.url}/v1`, maxRetries: 5 });
  const client = new ApiClient({ client: sdk, retry: { ...fast, maxAttempts: 2 } });
  t.equal(client.sdk.maxRetries, 0);
  const err: ApiError = await rejection(client.call({ operation: 'list batches' }, ({ options }) => client.sdk.batches.list({}, options)));
  t.match(err, { status: 500, attempts: 2 });
  t.equal(emulator.faults.injected.length, 2, 'two requests in all: no SDK retries underneath');
});

t.test('no API key anywhere is a coded option error', async (t) => {
  const saved = process.env.OPENAI_API_KEY;
  delete process.env.OPENAI_API_KEY;
  t.teardown(() => {
    if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
  });
  t.throws(() => new ApiClient({ baseURL: 'http://127.0.0.1:9/v1' }), OptionError);
  t.throws(() => new ApiClient({ baseURL: 'http://127.0.0.1:9/v1' }), { code: 'MISSING_API_KEY' });
});
