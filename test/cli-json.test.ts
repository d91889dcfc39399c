// --json: the report (each error, then one summary) as JSON lines, where a script can parse it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, jsonLines, requestLine as line } from './helpers/cli.ts';
import { jsonl, request, resultFor, scratch } from './helpers/join-fixtures.ts';

t.test('validate --json prints one JSON error a line, then one summary object, on stdout', async (t) => {
  const input = [line('a'), 'nope', line('a'), line('c')].join('\n') + '\n';
  const run = await cli(['validate', '-', '--json', '--on-invalid', 'skip'], input);
  t.equal(run.code, 1);
  t.equal(run.stderr, '', 'nothing for people on stderr');
  const objects = jsonLines(run.stdout);
  t.match(objects[0], { type: 'error', code: 'INVALID_JSON', line: 2 });
  t.match(objects[1], { type: 'error', code: 'DUPLICATE_CUSTOM_ID', line: 3, customId: 'a' });
  t.same(objects[2], {
    type: 'summary',
    command: 'validate',
    ok: false,
    lines: 4,
    requests: 2,
    shards: 1,
    skipped: 2,
    bytes: Buffer.byteLength(input),
    seconds: objects[2].seconds,
  });
  t.type(objects[2].seconds, 'number');
  t.equal(objects.length, 3);
});

t.test('validate --json on a clean file is one summary; stopped, it names the line', async (t) => {
  const clean = await cli(['validate', '-', '--json'], [line('a'), line('b')].join('\n'));
  t.equal(clean.code, 0);
  t.match(jsonLines(clean.stdout), [{ type: 'summary', command: 'validate', ok: true, lines: 2, requests: 2 }]);
  const stopped = await cli(['validate', '-', '--json'], [line('a'), 'nope', line('b')].join('\n'));
  t.equal(stopped.code, 1);
  const objects = jsonLines(stopped.stdout);
  t.match(objects, [
    { type: 'error', code: 'INVALID_JSON', line: 2 },
    { type: 'summary', ok: false, stoppedAtLine: 2, lines: 2, requests: 1 },
  ]);
  t.equal(objects.length, 2);
});

t.test('--json reports a fault found before the work as one JSON error and no summary, since nothing ran', async (t) => {
  const run = await cli(['validate', '/nonexistent/in.jsonl', '--json']);
  t.equal(run.code, 1);
  t.same(jsonLines(run.stdout), [
    { type: 'error', code: 'INPUT_UNREADABLE', message: 'cannot read /nonexistent/in.jsonl: does not exist', path: '/nonexistent/in.jsonl', syscallCode: 'ENOENT' },
  ]);
  t.equal(run.stderr, '');
  const badValue = await cli(['validate', '-', '--json', '--max-bytes', '0']);
  t.match(jsonLines(badValue.stdout), [{ type: 'error', code: 'INVALID_OPTION', message: /--max-bytes/ }]);
  // A command line that cannot be read at all is told in text: whether --json was meant is not known.
  const unreadable = await cli(['validate', '-', '--json', '--bogus']);
  t.match(unreadable.stderr, /^batchline: INVALID_OPTION: Unknown option '--bogus'/);
});

t.test('shard --json keeps stdout for the descriptors and puts the report on stderr', async (t) => {
  const dir = t.testdir();
  const run = await cli(['shard', '-', '--out-dir', `${dir}/out`, '--json', '--on-invalid', 'skip'], [line('a'), '{', line('b')].join('\n'));
  t.equal(run.code, 0);
  t.match(jsonLines(run.stdout), [{ index: 0, requests: 2 }]);
  t.match(jsonLines(run.stderr), [
    { type: 'error', code: 'INVALID_JSON', line: 2 },
    { type: 'summary', command: 'shard', ok: true, lines: 3, requests: 2, shards: 1, skipped: 1 },
  ]);
});

t.test('join --json: the summary as JSON on stdout with -o, on stderr when the results are on stdout', async (t) => {
  const dir = scratch(t);
  const input = dir.file('input.jsonl', jsonl([request('a'), request('b'), request('c')]));
  const out = dir.file('out.jsonl', jsonl([resultFor('b', 'succeeded'), resultFor('a', 'rejected')]));
  const target = join(dir.dir, 'joined.jsonl');
  const toFile = await cli(['join', input, out, '-o', target, '--json', '--temp-dir', dir.dir]);
  t.equal(toFile.code, 1, 'c has no result');
  t.equal(toFile.stderr, '');
  const report = jsonLines(toFile.stdout);
  t.match(report, [
    { type: 'error', code: 'MISSING_RESULTS', line: 3, customId: 'c' },
    {
      type: 'summary',
      command: 'join',
      ok: false,
      requests: 3,
      joined: 3,
      succeeded: 1,
      rejected: 1,
      missing: 1,
      failed: 0,
      expired: 0,
      cancelled: 0,
      resultLines: 2,
      duplicates: 0,
      unknown: 0,
      conflicting: 0,
    },
  ]);
  t.equal(jsonLines(readFileSync(target, 'utf8')).length, 3);

  const toStdout = await cli(['join', input, out, '--json', '--temp-dir', dir.dir]);
  t.same(jsonLines(toStdout.stdout).map((r) => r.custom_id), ['a', 'b', 'c'], 'stdout holds only the results');
  t.match(jsonLines(toStdout.stderr), [{ type: 'error', code: 'MISSING_RESULTS' }, { type: 'summary', command: 'join' }]);
});
