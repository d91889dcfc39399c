import t from 'tap';
import { BatchlineError, IoError, ValidationError } from '../src/errors.ts';
import { COMMANDS } from '../src/cli/main.ts';
import { formatError, errorJson } from '../src/cli/format-error.ts';
import { cli } from './helpers/cli.ts';

const NAMES = ['run', 'validate', 'shard', 'join', 'upload', 'submit', 'status', 'wait', 'cancel', 'list', 'download', 'emulator', 'demo'];

t.test('lists every command with a line about it, and exits 1 without a command', async (t) => {
  const help = await cli(['--help']);
  t.equal(help.code, 0);
  for (const name of NAMES) t.match(help.stdout, new RegExp(`\\n  ${name} +\\w`), name);
  t.same(Object.keys(COMMANDS).sort(), [...NAMES].sort());
  t.equal((await cli(['help'])).stdout, help.stdout, '`batchline help` is `batchline --help`');
  const none = await cli([]);
  t.equal(none.code, 1);
  t.match(none.stdout, /usage: batchline <command>/);
});

t.test('prints the package version', async (t) => {
  const run = await cli(['--version']);
  t.equal(run.code, 0);
  t.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test('rejects an unknown command with a coded error', async (t) => {
  const run = await cli(['frobnicate']);
  t.equal(run.code, 1);
  t.match(run.stderr, /^batchline: UNKNOWN_COMMAND: no command "frobnicate"/);
  t.equal((await cli(['constructor'])).code, 1, 'inherited object keys are not commands');
  t.match((await cli(['help', 'frobnicate'])).stderr, /UNKNOWN_COMMAND/);
  t.match((await cli(['help', 'join', 'shard'])).stderr, /^batchline: INVALID_OPTION: help takes one command name/);
});

t.test('`help <command>` and `<command> --help` print the same text, explaining every flag', async (t) => {
  for (const name of NAMES) {
    const viaHelp = await cli(['help', name]);
    const viaFlag = await cli([name, '--help']);
    const viaShort = await cli([name, '-h']);
    t.equal(viaHelp.code, 0, name);
    t.equal(viaFlag.code, 0, name);
    t.equal(viaHelp.stdout, viaFlag.stdout, `${name}: the same text both ways`);
    t.equal(viaShort.stdout, viaFlag.stdout, `${name}: -h too`);
    t.match(viaHelp.stdout, new RegExp(`usage: batchline ${name}`));
    const command = await COMMANDS[name].load();
    for (const [flag, spec] of Object.entries(command.flags)) {
      // The flag's own help line: its name, then at least a few words about it.
      const line = viaHelp.stdout.split('\n').find((l) => new RegExp(`^  (-\\w, )?--${flag}\\b`).test(l));
      t.ok(line, `${name} --${flag} has a help line`);
      t.match(line!.replace(/^\s*(-\w, )?--[\w-]+( \S+)?\s+/, ''), /\w+ \w+ \w+/, `${name} --${flag} is explained`);
      t.ok(spec.help.length > 10);
      if (spec.type === 'string') t.ok(spec.value, `${name} --${flag} shows what its value looks like`);
    }
  }
});

t.test('an unknown flag is a coded INVALID_OPTION that points at the help', async (t) => {
  for (const name of NAMES) {
    const run = await cli([name, '--no-such-flag']);
    t.equal(run.code, 1, name);
    t.match(run.stderr, new RegExp(`^batchline: INVALID_OPTION: .*--no-such-flag.*batchline help ${name}`), name);
    t.equal(run.stdout, '');
  }
});

t.test('the retired bad-line flags are refused on every command, naming --on-invalid', async (t) => {
  const cases: Array<[string[], string]> = [
    [['validate', '-', '--fail-fast'], '--on-invalid error'],
    [['shard', '-', '--out-dir', 'x', '--skip-invalid'], '--on-invalid skip'],
    [['join', 'a', 'b', '--lenient'], '--on-invalid skip'],
    [['emulator', '--lenient'], '--on-invalid skip'],
    [['validate', '-', '--fail-fast=true'], '--on-invalid error'],
  ];
  for (const [args, hint] of cases) {
    const run = await cli(args);
    t.equal(run.code, 1, args.join(' '));
    t.match(run.stderr, new RegExp(`^batchline: INVALID_OPTION: --[a-z-]+ is no longer a flag: use ${hint}`), args.join(' '));
  }
  const bad = await cli(['validate', '-', '--on-invalid', 'ignore']);
  t.match(bad.stderr, /^batchline: INVALID_OPTION: --on-invalid takes error or skip, got "ignore"/);
});

t.test('extra arguments are refused, never ignored', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['validate', 'a.jsonl', 'b.jsonl'], /unexpected argument "b\.jsonl": validate takes one input file/],
    [['shard', 'a.jsonl', 'missing.jsonl', '--out-dir', 'x'], /unexpected argument "missing\.jsonl": shard takes one input file/],
    [['emulator', 'now'], /unexpected argument "now": emulator takes no arguments/],
    [['demo', 'quick'], /unexpected argument "quick": demo takes no arguments/],
    [['validate'], /validate takes one input file \(or - for stdin\)/],
    [['join', 'in.jsonl'], /join takes the input file .* and one or more result files/],
  ];
  for (const [args, message] of cases) {
    const run = await cli(args);
    t.equal(run.code, 1, args.join(' '));
    t.match(run.stderr, /^batchline: INVALID_OPTION: /);
    t.match(run.stderr, message);
  }
});

t.test('whole-number flags are checked by the one checker the stages use, naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['validate', '-', '--max-bytes', 'lots'], /--max-bytes must be a whole number ≥ 1, got "lots"/],
    [['validate', '-', '--max-requests', '0'], /--max-requests must be a whole number ≥ 1, got 0/],
    [['validate', '-', '--max-line-bytes', '1.5'], /--max-line-bytes must be a whole number ≥ 1, got "1.5"/],
    [['join', 'a', 'b', '--max-partition-bytes', '10'], /--max-partition-bytes must be a whole number ≥ 1024, got 10/],
    [['emulator', '--seed', '-1'], /INVALID_OPTION/],
    [['demo', '--error-rate', ''], /--error-rate must be a number from 0 to 1, got ""/],
  ];
  for (const [args, message] of cases) {
    const run = await cli(args);
    t.equal(run.code, 1, args.join(' '));
    t.match(run.stderr, message, args.join(' '));
  }
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
  t.same(errorJson(err), { type: 'error', ...err.toJSON() });
  t.equal(formatError(Object.assign(new Error('boom'), { code: 'ECONNRESET' })), 'batchline: ECONNRESET: boom');
  t.equal(formatError(new Error('plain')), 'batchline: UNEXPECTED: plain');
  t.equal(formatError('text'), 'batchline: UNEXPECTED: text');
  t.same(errorJson('text'), { type: 'error', code: 'UNEXPECTED', message: 'text' });
  const io = new IoError('OUTPUT_NOT_WRITABLE', 'cannot write -o x: it is a directory', { path: 'x', syscallCode: 'EISDIR' });
  t.equal(formatError(io), 'batchline: OUTPUT_NOT_WRITABLE: cannot write -o x: it is a directory (path="x" syscallCode="EISDIR")');
});

t.test('a system error that escaped a stage is one IO_FAILED line, its code and path said once', async (t) => {
  const raw = Object.assign(new Error("EEXIST: file already exists, mkdir '/tmp/x'"), { code: 'EEXIST', errno: -17, syscall: 'mkdir', path: '/tmp/x' });
  const line = formatError(raw);
  t.equal(line, 'batchline: IO_FAILED: file already exists, mkdir \'/tmp/x\' (path="/tmp/x" syscallCode="EEXIST")');
  t.equal(line.match(/EEXIST/g)?.length, 1, 'EEXIST once');
  t.match(errorJson(raw), { type: 'error', code: 'IO_FAILED', path: '/tmp/x', syscallCode: 'EEXIST' });
});
