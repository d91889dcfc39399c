// Option errors name their option; I/O failures are IoErrors with the path and the system's code, said once.
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { normalizePollSchedule } from '../src/core/poll-schedule.ts';
import { normalizeRetryPolicy } from '../src/core/retry-policy.ts';
import { normalizeEmulatorOptions } from '../src/emulator/options.ts';
import { BatchlineError, invalidOption, IoError, JoinError, OptionError } from '../src/errors.ts';
import { asIoFailure, systemReason } from '../src/io/system-error.ts';
import { normalizeShardUploadOptions } from '../src/openai/upload-shard.ts';
import { joinResults } from '../src/streams/join.ts';
import { createParser } from '../src/streams/parse.ts';
import { createSharder } from '../src/streams/shard.ts';
import { createValidator } from '../src/streams/validate.ts';
import { cli, requestLine } from './helpers/cli.ts';
import { chunked, collect } from './helpers/streams.ts';

t.test('a bad option is an OptionError whose option field names it, in its JSON too', async (t) => {
  const cases: Array<[string, () => unknown]> = [
    ['maxBytes', () => createSharder({ dir: 'x', maxBytes: 0 })],
    ['endpoint', () => createValidator({ endpoint: '/v1/nope' as never })],
    ['onIssue', () => joinResults({ input: 'in.jsonl', results: [], onIssue: 5 as never })],
    ['results[1]', () => joinResults({ input: 'in.jsonl', results: ['a.jsonl', 5 as never] })],
    ['multiplier', () => normalizePollSchedule({ multiplier: 20 })],
    ['retry.maxAttempts', () => normalizeRetryPolicy({ maxAttempts: 0 })],
    ['partSizeBytes', () => normalizeShardUploadOptions({ partSizeBytes: 1 })],
    ['limits.maxFileBytes', () => normalizeEmulatorOptions({ limits: { maxFileBytes: -1 } as never })],
    ['host', () => normalizeEmulatorOptions({ host: '0.0.0.0' as never })],
  ];
  for (const [option, make] of cases) {
    let caught: unknown;
    try {
      make();
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof OptionError, `${option}: an OptionError`);
    t.match(caught, { code: 'INVALID_OPTION', option }, option);
    t.match((caught as OptionError).toJSON(), { code: 'INVALID_OPTION', option }, `${option}: in toJSON`);
  }
  t.same(invalidOption('x', 'x is bad', { line: 3 }).toJSON(), { code: 'INVALID_OPTION', message: 'x is bad', line: 3, option: 'x' });
});

t.test('a bad flag or argument is named by the option field the CLI prints', async (t) => {
  const dir = t.testdir({ 'in.jsonl': `${requestLine('a')}\n` });
  const cases: Array<[string[], string]> = [
    [['--max-bytes', 'lots'], '--max-bytes'],
    [['--on-invalid', 'maybe'], '--on-invalid'],
    [['--no-such-flag'], '--no-such-flag'],
    [['--max-bytes'], '--max-bytes'],
    [[`${dir}/in.jsonl`], 'arguments'],
  ];
  for (const [args, option] of cases) {
    const run = await cli(['validate', `${dir}/in.jsonl`, ...args]);
    t.equal(run.code, 1, args.join(' '));
    t.ok(run.stderr.startsWith('batchline: INVALID_OPTION: '), run.stderr);
    t.ok(run.stderr.includes(` (option=${JSON.stringify(option)})\n`), `${args.join(' ')}: ${option}`);
  }
  const json = await cli(['validate', `${dir}/in.jsonl`, '--max-bytes', '0', '--json']);
  const error = json.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line)).find((line) => line.type === 'error');
  t.match(error, { type: 'error', code: 'INVALID_OPTION', option: '--max-bytes' }, 'and in --json output');
});

t.test('system reasons are words without the code or the path', async (t) => {
  const dir = t.testdir({ file: 'x' });
  const err = await mkdir(join(dir, 'file')).catch((e: unknown) => e);
  t.equal(systemReason(err), 'already exists');
  const eio = Object.assign(new Error(`EIO: i/o error, read '${dir}/x'`), { code: 'EIO', syscall: 'read', path: `${dir}/x` });
  t.equal(systemReason(eio), 'i/o error', "Node's own words for a code without ours");
  t.equal(systemReason(new Error('the file is closed')), 'the file is closed');
  const failure = asIoFailure(eio);
  t.ok(failure instanceof IoError);
  t.match(failure, { code: 'IO_FAILED', message: `i/o error, read '${dir}/x'`, path: `${dir}/x`, syscallCode: 'EIO' });
  const plain = new Error('not a system error');
  t.equal(asIoFailure(plain), plain, 'anything else is left as it was');
});

t.test('a shard directory that cannot be made is SHARD_WRITE_FAILED with its path, the code said once', async (t) => {
  const dir = t.testdir();
  const blocker = join(dir, 'taken');
  await writeFile(blocker, 'a file where the directory should be');
  const sharder = createSharder({ dir: blocker });
  const failed = await pipeline(chunked(Buffer.from(`${requestLine('a')}\n`), 64), createParser(), createValidator(), sharder, collect([])).catch((e: unknown) => e);
  t.ok(failed instanceof IoError);
  t.match(failed, { code: 'SHARD_WRITE_FAILED', path: blocker, syscallCode: 'EEXIST', message: `could not create the directory ${blocker}: a file is in its place` });
  t.notMatch((failed as Error).message, /EEXIST/);
});

// Checked by the typecheck, never run: a code not in ERROR_CODES, or one the registry gives another class, is refused.
export function refusedCodes(): BatchlineError[] {
  return [
    // @ts-expect-error -- a typo is no ErrorCode
    new BatchlineError('INVALID_OPTON', 'x'),
    // @ts-expect-error -- SHARD_EXISTS is carried by IoError, not JoinError
    new JoinError('SHARD_EXISTS', 'x'),
  ];
}
