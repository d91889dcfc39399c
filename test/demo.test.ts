import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { main as runCli } from '../src/cli/main.ts';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => (text += chunk));
  return { stream, text: () => text };
}

t.test('the demo runs the whole trip offline, heals what failed and joins every request back in input order', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'batchline-demo-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(
    ['demo', '--requests', '600', '--max-requests', '80', '--batch-duration-ms', '100', '--error-rate', '0.1', '--out-dir', dir],
    { stdin: new PassThrough(), stdout: stdout.stream, stderr: stderr.stream, env: {} },
  );
  t.equal(code, 0, stderr.text());
  const results = (await readFile(join(dir, 'results.jsonl'), 'utf8'))
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
  t.equal(results.length, 600);
  t.same(
    results.map((r) => r.custom_id),
    Array.from({ length: 600 }, (_, i) => `row-${i + 1}`),
    'one result per request, in input order',
  );
  // Line 4 of the input is blank, so row-4 sits on line 5: line numbers are the input's own.
  t.same(results.slice(0, 5).map((r) => r.line), [1, 2, 3, 5, 6]);
  const rejected = results.filter((r) => r.status === 'rejected');
  const succeeded = results.filter((r) => r.status === 'succeeded');
  t.equal(rejected.length + succeeded.length, 600, 'every request succeeded or was rejected: the expiry, the token-limit failure and the 500s were healed');
  t.ok(rejected.length > 0, 'the error rate produced rejected lines');
  t.ok(rejected.every((r) => r.response.status_code >= 400 && r.response.status_code < 500));
  t.ok(succeeded.every((r) => r.response.status_code === 200 && r.response.body !== null));
  t.match(stdout.text(), /600 results in input order/);
  t.match(stderr.text(), /requests go again/);
  t.match(stderr.text(), /batchline run: \d+ batches \(\d+ follow-ups retrying/);
  t.match(stderr.text(), /cost ~\$[\d.]+ at Batch API prices/);

  await writeFile(join(dir, 'my-notes.txt'), 'mine');
  const again = await runCli(['demo', '--requests', '50', '--batch-duration-ms', '20', '--out-dir', dir], {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: {},
  });
  t.equal(again, 0, 'a second run into the same directory starts afresh');
  t.equal((await readFile(join(dir, 'results.jsonl'), 'utf8')).trimEnd().split('\n').length, 50);
  t.equal(await readFile(join(dir, 'my-notes.txt'), 'utf8'), 'mine', "files that are not the demo's stay");
});

t.test('the demo refuses a bad option with a coded error', async (t) => {
  const stderr = capture();
  const code = await runCli(['demo', '--error-rate', '2'], {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: stderr.stream,
    env: {},
  });
  t.equal(code, 1);
  t.match(stderr.text(), /INVALID_OPTION: --error-rate/);
});
