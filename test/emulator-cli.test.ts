import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import OpenAI, { toFile } from 'openai';
import { main } from '../src/cli/main.ts';
import type { CommandIO } from '../src/cli/command.ts';
import { chatLines, tempDir } from './helpers/emulator.ts';

const LISTENING = /^batchline emulator listening on (http:\/\/127\.0\.0\.1:(\d+)\/v1)\n$/;

interface RunningCli {
  io: CommandIO;
  stop: AbortController;
  exit: Promise<number>;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line once it has arrived. */
  firstLine: Promise<string>;
}

function runCli(args: string[]): RunningCli {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stderr.on('data', (chunk) => (err += chunk));
  const firstLine = new Promise<string>((resolve) => {
    stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n') + 1));
    });
  });
  const stop = new AbortController();
  const io: CommandIO = { stdin: new PassThrough(), stdout, stderr, env: {}, signal: stop.signal };
  return { io, stop, exit: main(['emulator', ...args], io), stdout: () => out, stderr: () => err, firstLine };
}

t.test('prints its URL once it accepts connections and stops cleanly on the abort signal', async (t) => {
  const cli = runCli(['--port', '0', '--api-key', 'sk-cli-secret', '--batch-duration-ms', '100', '--fault-rate', '0', '--error-rate', '0.1', '--transient-error-rate', '0.1', '--token-limit', '1000000', '--seed', '3']);
  const line = await cli.firstLine;
  const match = LISTENING.exec(line);
  t.ok(match, `printed ${JSON.stringify(line)}`);
  const client = new OpenAI({ baseURL: match![1], apiKey: 'sk-cli-secret', maxRetries: 0 });
  const file = await client.files.create({ file: await toFile(Buffer.from(chatLines(['x'])), 'x.jsonl'), purpose: 'batch' });
  t.match(file.id, /^file-/);
  t.equal((await fetch(`${match![1]}/files`)).status, 401, 'the --api-key is enforced');

  cli.stop.abort();
  t.equal(await cli.exit, 0);
  t.equal(cli.stdout(), line, 'stdout holds exactly the one line');
  t.notMatch(cli.stdout() + cli.stderr(), 'sk-cli-secret', 'the key is never printed');
  await t.rejects(fetch(`${match![1]}/files`), 'the port is closed after shutdown');
});

t.test('rejects bad options with a coded error and exit 1', async (t) => {
  for (const args of [['--fault-rate', '2'], ['--fault-kinds', '429,meltdown'], ['--port', 'eighty'], ['--port', '70000'], ['--error-rate', '-1'], ['--transient-error-rate', '1.5'], ['--token-limit', '0'],
    ['--batch-fault', '0:expire'], ['--batch-fault', '2:meltdown'], ['--batch-fault', 'expire'], ['--batch-fault', '1:fail', '--batch-fault', '1:expire'], ['--bogus'], ['--api-key', '']]) {
    const cli = runCli(args);
    t.equal(await cli.exit, 1, args.join(' '));
    t.match(cli.stderr(), /^batchline: INVALID_OPTION: /, `${args.join(' ')}: ${cli.stderr().trim()}`);
    t.equal(cli.stdout(), '');
  }
});

t.test('--batch-fault N:KIND ends the Nth batch created that way', async (t) => {
  const cli = runCli(['--batch-duration-ms', '50', '--batch-fault', '2:fail', '--batch-fault', '1:token_limit_exceeded']);
  const url = LISTENING.exec(await cli.firstLine)![1];
  const client = new OpenAI({ baseURL: url, apiKey: 'any', maxRetries: 0 });
  const file = await client.files.create({ file: await toFile(Buffer.from(chatLines(['a', 'b'])), 'in.jsonl'), purpose: 'batch' });
  const codes: string[] = [];
  for (let k = 0; k < 3; k++) {
    let batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) batch = await client.batches.retrieve(batch.id);
    codes.push(batch.status === 'failed' ? batch.errors!.data![0].code! : batch.status);
  }
  t.same(codes, ['token_limit_exceeded', 'server_error', 'completed']);
  cli.stop.abort();
  t.equal(await cli.exit, 0);
});

t.test('--fault-rate with --fault-kinds injects only those kinds', async (t) => {
  const cli = runCli(['--fault-rate', '1', '--fault-kinds', '503', '--seed', '9']);
  const url = LISTENING.exec(await cli.firstLine)![1];
  for (let i = 0; i < 3; i++) t.equal((await fetch(`${url}/files`)).status, 503);
  cli.stop.abort();
  t.equal(await cli.exit, 0);
});

t.test('--help describes every flag', async (t) => {
  const cli = runCli(['--help']);
  t.equal(await cli.exit, 0);
  for (const flag of ['--port', '--api-key', '--batch-duration-ms', '--fault-rate', '--fault-kinds', '--token-limit', '--state-dir', '--error-rate', '--transient-error-rate', '--batch-fault', '--seed']) {
    t.match(cli.stdout(), flag);
  }
});

t.test('--state-dir keeps files across two runs of the command', async (t) => {
  const dir = await tempDir(t);
  const first = runCli(['--state-dir', dir]);
  const url = LISTENING.exec(await first.firstLine)![1];
  const client = new OpenAI({ baseURL: url, apiKey: 'any', maxRetries: 0 });
  const file = await client.files.create({ file: await toFile(Buffer.from(chatLines(['kept'])), 'kept.jsonl'), purpose: 'batch' });
  first.stop.abort();
  t.equal(await first.exit, 0);

  const second = runCli(['--state-dir', dir]);
  const secondUrl = LISTENING.exec(await second.firstLine)![1];
  const again = new OpenAI({ baseURL: secondUrl, apiKey: 'any', maxRetries: 0 });
  t.equal(await (await again.files.content(file.id)).text(), chatLines(['kept']));
  second.stop.abort();
  t.equal(await second.exit, 0);
});

t.test('as a process: prints its URL and exits 0 on SIGINT and on SIGTERM', async (t) => {
  const entry = fileURLToPath(new URL('../src/cli/entry.ts', import.meta.url));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const child = spawn(process.execPath, [entry, 'emulator', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(out);
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    const match = LISTENING.exec(line);
    t.ok(match, `${signal}: printed ${JSON.stringify(line)}`);
    t.equal((await fetch(`${match![1]}/files`)).status, 200);
    child.kill(signal);
    const [code] = await once(child, 'exit');
    t.equal(code, 0, `exit 0 after ${signal}`);
    t.match(err, /batchline emulator stopped/);
  }
});
