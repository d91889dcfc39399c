import { PassThrough } from 'node:stream';
import t from 'tap';
import { BatchlineError, ValidationError, runCli } from '../src/index.ts';
import { formatError } from '../src/cli/main.ts';

function io() {
  const out = { stdout: '', stderr: '' };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c) => (out.stdout += c));
  stderr.on('data', (c) => (out.stderr += c));
  return { io: { stdin: new PassThrough(), stdout, stderr, env: {} }, out };
}

t.test('lists the commands with --help and exits 1 without a command', async (t) => {
  const a = io();
  t.equal(await runCli(['--help'], a.io), 0);
  for (const name of ['demo', 'emulator', 'join', 'shard', 'validate']) t.match(a.out.stdout, new RegExp(`\\n  ${name}\\n`));
  const b = io();
  t.equal(await runCli([], b.io), 1);
  t.match(b.out.stdout, /usage: batchline <command>/);
});

t.test('prints the package version', async (t) => {
  const a = io();
  t.equal(await runCli(['--version'], a.io), 0);
  t.match(a.out.stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test('rejects an unknown command with a coded error', async (t) => {
  const a = io();
  t.equal(await runCli(['frobnicate'], a.io), 1);
  t.match(a.out.stderr, /^batchline: UNKNOWN_COMMAND: no command "frobnicate"/);
  const b = io();
  t.equal(await runCli(['constructor'], b.io), 1, 'inherited object keys are not commands');
});

t.test('shows one command’s usage with --help', async (t) => {
  const a = io();
  t.equal(await runCli(['join', '--help'], a.io), 0);
  t.match(a.out.stdout, /usage: batchline join/);
});

t.test('an unknown flag is a coded INVALID_OPTION', async (t) => {
  const a = io();
  t.equal(await runCli(['demo', '--no-such-flag'], a.io), 1);
  t.match(a.out.stderr, /^batchline: INVALID_OPTION: /);
});

t.test('formats errors with their code and location', async (t) => {
  const err = new ValidationError('DUPLICATE_CUSTOM_ID', 'custom_id "a" repeats', { line: 9, customId: 'a', shard: 2, batchId: 'batch_1' });
  t.equal(
    formatError(err),
    'batchline: DUPLICATE_CUSTOM_ID: custom_id "a" repeats (line=9 customId="a" shard=2 batchId="batch_1")',
  );
  t.ok(err instanceof BatchlineError);
  t.equal(err.name, 'ValidationError');
  t.same(JSON.parse(JSON.stringify(err)), {
    code: 'DUPLICATE_CUSTOM_ID',
    message: 'custom_id "a" repeats',
    line: 9,
    customId: 'a',
    shard: 2,
    batchId: 'batch_1',
  });
  t.equal(formatError(Object.assign(new Error('boom'), { code: 'ECONNRESET' })), 'batchline: ECONNRESET: boom');
  t.equal(formatError(new Error('plain')), 'batchline: UNEXPECTED: plain');
  t.equal(formatError('text'), 'batchline: UNEXPECTED: text');
});
