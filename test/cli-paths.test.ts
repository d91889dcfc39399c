// Inputs and outputs are checked before the work: one coded IoError naming the path, never a system error twice.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requestLine as line } from './helpers/cli.ts';
import { jsonl, request, resultFor } from './helpers/join-fixtures.ts';

/** Exactly one line on stderr, the coded error: no summary (nothing ran), no system code twice. */
function oneError(t: Test, stderr: string, code: string, path: string, syscallCode: string): void {
  const lines = stderr.split('\n').filter(Boolean);
  t.equal(lines.length, 1, `one line: ${stderr}`);
  t.match(lines[0], new RegExp(`^batchline: ${code}: `));
  t.ok(lines[0].endsWith(`(path=${JSON.stringify(path)} syscallCode="${syscallCode}")`), lines[0]);
  t.equal(lines[0].split(syscallCode).length, 2, `${syscallCode} once`);
}

function fixture(t: Test) {
  const dir = t.testdir({ 'in.jsonl': [line('a'), line('b')].join('\n') + '\n', 'a-file': 'x', 'a-dir': {} });
  return { dir, input: join(dir, 'in.jsonl'), file: join(dir, 'a-file'), subdir: join(dir, 'a-dir') };
}

t.test('an input that cannot be read is INPUT_UNREADABLE with its path', async (t) => {
  const { dir, subdir } = fixture(t);
  const missing = join(dir, 'missing.jsonl');
  oneError(t, (await cli(['validate', missing])).stderr, 'INPUT_UNREADABLE', missing, 'ENOENT');
  oneError(t, (await cli(['shard', subdir, '--out-dir', join(dir, 'out')])).stderr, 'INPUT_UNREADABLE', subdir, 'EISDIR');
  const run = await cli(['join', join(dir, 'in.jsonl'), missing]);
  t.equal(run.code, 1);
  oneError(t, run.stderr, 'INPUT_UNREADABLE', missing, 'ENOENT');
  t.notOk(existsSync(join(dir, 'out')), 'nothing made');
});

t.test('--out-dir naming a file, or a path through one, is NOT_A_DIRECTORY before a line is read', async (t) => {
  const { input, file } = fixture(t);
  const run = await cli(['shard', input, '--out-dir', file]);
  t.equal(run.code, 1);
  oneError(t, run.stderr, 'NOT_A_DIRECTORY', file, 'ENOTDIR');
  t.match(run.stderr, /--out-dir .*a-file: it is a file, not a directory/);
  const below = join(file, 'shards');
  oneError(t, (await cli(['shard', input, '--out-dir', below])).stderr, 'NOT_A_DIRECTORY', below, 'ENOTDIR');
  oneError(t, (await cli(['demo', '--out-dir', file])).stderr, 'NOT_A_DIRECTORY', file, 'ENOTDIR');
  oneError(t, (await cli(['emulator', '--state-dir', file])).stderr, 'NOT_A_DIRECTORY', file, 'ENOTDIR');
});

t.test('shard creates a missing --out-dir, nested, only once there is a shard to write', async (t) => {
  const { dir, input } = fixture(t);
  const nested = join(dir, 'new', 'deeper');
  const run = await cli(['shard', input, '--out-dir', nested]);
  t.equal(run.code, 0, run.stderr);
  t.same(readdirSync(nested), ['shard-00000.jsonl']);
});

t.test('-o naming a directory, or under a missing directory, is OUTPUT_NOT_WRITABLE before the join', async (t) => {
  const { dir, subdir } = fixture(t);
  const input = join(dir, 'requests.jsonl');
  writeFileSync(input, jsonl([request('a')]));
  const out = join(dir, 'out.jsonl');
  writeFileSync(out, jsonl([resultFor('a', 'succeeded')]));
  const intoDir = await cli(['join', input, out, '-o', subdir]);
  t.equal(intoDir.code, 1);
  oneError(t, intoDir.stderr, 'OUTPUT_NOT_WRITABLE', subdir, 'EISDIR');
  t.same(readdirSync(subdir), [], 'nothing written into it');
  t.equal(intoDir.stdout, '');
  const nowhere = '/nonexistent/dir/x.jsonl';
  const missing = await cli(['join', input, out, '-o', nowhere]);
  oneError(t, missing.stderr, 'OUTPUT_NOT_WRITABLE', nowhere, 'ENOENT');
  t.match(missing.stderr, /its directory \/nonexistent\/dir does not exist/);
  const underFile = join(dir, 'a-file', 'x.jsonl');
  oneError(t, (await cli(['join', input, out, '-o', underFile])).stderr, 'OUTPUT_NOT_WRITABLE', underFile, 'ENOTDIR');
});

t.test('--temp-dir must be an existing directory', async (t) => {
  const { dir, file } = fixture(t);
  const input = join(dir, 'requests.jsonl');
  writeFileSync(input, jsonl([request('a')]));
  const out = join(dir, 'out.jsonl');
  writeFileSync(out, jsonl([resultFor('a', 'succeeded')]));
  oneError(t, (await cli(['join', input, out, '--temp-dir', file])).stderr, 'NOT_A_DIRECTORY', file, 'ENOTDIR');
  const gone = join(dir, 'gone');
  oneError(t, (await cli(['join', input, out, '--temp-dir', gone])).stderr, 'NOT_A_DIRECTORY', gone, 'ENOENT');
  mkdirSync(gone);
  t.equal((await cli(['join', input, out, '--temp-dir', gone])).code, 0);
});

t.test('a directory that may not be written is OUTPUT_NOT_WRITABLE', { skip: process.getuid?.() === 0 && 'root may write anywhere' }, async (t) => {
  const { dir, input } = fixture(t);
  const locked = join(dir, 'locked');
  mkdirSync(locked, { mode: 0o500 });
  const target = join(locked, 'shards');
  oneError(t, (await cli(['shard', input, '--out-dir', target])).stderr, 'OUTPUT_NOT_WRITABLE', target, 'EACCES');
});
