/** The dispatcher: finds the command, prints help, watches stdout and the signals, prints the error that ended a run. */
import { commandHelp, StdoutClosed, type Command, type CommandIO } from './command.ts';
import { formatError } from './format-error.ts';

interface CommandEntry {
  /** One line for `batchline --help`. */
  summary: string;
  load(): Promise<Command>;
}

/**
 * Each command is loaded only when called: `demo` and `emulator` bring the
 * openai SDK and an HTTP server, which would make `batchline --help` take
 * 0.49 s of CPU instead of 0.13 s and every `shard` run 26 MB larger
 * (measured: `batchline demo --help` against `batchline --help`).
 */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: {
    summary: 'the whole trip in one command: results in input order, healed, resumable after a crash',
    load: async () => (await import('./commands/run.ts')).runCommand,
  },
  validate: {
    summary: 'check a request file against the Batch API rules, writing nothing',
    load: async () => (await import('./commands/validate.ts')).validateCommand,
  },
  shard: {
    summary: 'validate a request file and write it as upload-ready shard files',
    load: async () => (await import('./commands/shard.ts')).shardCommand,
  },
  join: {
    summary: 'join output and error files back to their input, one result per request in input order',
    load: async () => (await import('./commands/join.ts')).joinCommand,
  },
  upload: {
    summary: 'upload JSONL request files (large ones in parts), one file id a line',
    load: async () => (await import('./commands/upload.ts')).uploadCommand,
  },
  submit: {
    summary: 'create a batch for an uploaded file, tagged so a retry never makes two',
    load: async () => (await import('./commands/submit.ts')).submitCommand,
  },
  status: {
    summary: 'print a batch as JSON, or a whole run with --state-dir',
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  wait: {
    summary: 'wait for a batch to end, progress on stderr, the batch as JSON on stdout',
    load: async () => (await import('./commands/wait.ts')).waitCommand,
  },
  cancel: {
    summary: 'cancel a batch, or every batch of a run with --state-dir (finished results stay)',
    load: async () => (await import('./commands/cancel.ts')).cancelCommand,
  },
  list: {
    summary: 'list batches, newest first, as JSON lines (with a metadata filter)',
    load: async () => (await import('./commands/list.ts')).listCommand,
  },
  download: {
    summary: "download a batch's output and error files, written atomically",
    load: async () => (await import('./commands/download.ts')).downloadCommand,
  },
  emulator: {
    summary: 'run a local emulator of the Files, Uploads and Batches API',
    load: async () => (await import('./commands/emulator.ts')).emulatorCommand,
  },
  demo: {
    summary: 'run a batch end to end against the embedded emulator, offline',
    load: async () => (await import('./commands/demo.ts')).demoCommand,
  },
};

/** Exit code when stdout closed under a command (`| head -1`): 128 + SIGPIPE, as a shell reports a writer the pipe ended. */
export const EXIT_STDOUT_CLOSED = 141;

function generalHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((name) => name.length)) + 2;
  return [
    'usage: batchline <command> [arguments] [flags]',
    '',
    'commands:',
    ...names.map((name) => `  ${name.padEnd(width)}${COMMANDS[name].summary}`),
    '',
    'Run `batchline help <command>` (or `batchline <command> --help`) for the flags of one command.',
    '',
  ].join('\n');
}

/**
 * Runs the CLI and resolves to the process exit code. Without `io` it uses the
 * process's own streams, and SIGINT/SIGTERM abort the command (exit 130/143)
 * for as long as it runs.
 */
export async function main(argv: string[], io?: CommandIO): Promise<number> {
  if (io) return runCommand(argv, io);
  const signals = listenForSignals();
  try {
    const code = await runCommand(argv, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: signals.signal,
    });
    // A command that stopped cleanly on the signal (the emulator) keeps its 0.
    return signals.received && code !== 0 ? signals.exitCode : code;
  } finally {
    signals.stop();
  }
}

function unknownCommand(name: string, io: CommandIO): number {
  io.stderr.write(`batchline: UNKNOWN_COMMAND: no command ${JSON.stringify(name)}\n\n${generalHelp()}`);
  return 1;
}

/** `--help` or `-h` among the command's own arguments (not after `--`). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.stdout.write(generalHelp());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (name === 'help') {
    if (rest.length > 1) {
      io.stderr.write(`batchline: INVALID_OPTION: help takes one command name, got ${rest.length}\n`);
      return 1;
    }
    if (!Object.hasOwn(COMMANDS, rest[0])) return unknownCommand(rest[0], io);
    io.stdout.write(commandHelp(rest[0], await COMMANDS[rest[0]].load()));
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) return unknownCommand(name, io);
  const command = await COMMANDS[name].load();
  if (asksForHelp(rest)) {
    io.stdout.write(commandHelp(name, command));
    return 0;
  }
  const watch = watchStdout(io);
  try {
    const code = await command.run(rest, watch.io);
    return watch.closed ? EXIT_STDOUT_CLOSED : code;
  } catch (err) {
    if (watch.closed) return EXIT_STDOUT_CLOSED;
    io.stderr.write(`${formatError(err)}\n`);
    return 1;
  } finally {
    watch.stop();
  }
}

/**
 * A closed stdout (the reader went away: `| head -1`) aborts the command the
 * way Ctrl-C does, so it stops and removes what it half-wrote, and the run
 * ends quietly instead of with an EPIPE stack trace.
 */
function watchStdout(io: CommandIO) {
  const controller = new AbortController();
  const state = {
    closed: false,
    io: { ...io, signal: io.signal ? AbortSignal.any([io.signal, controller.signal]) : controller.signal },
    stop: () => {
      io.stdout.off('error', onError);
      io.stdout.off('close', onClose);
    },
  };
  function onClose(): void {
    state.closed = true;
    controller.abort(new StdoutClosed());
  }
  // A pipe whose reader went away fails the next write with EPIPE; a stream destroyed under us just closes.
  function onError(err: NodeJS.ErrnoException): void {
    if (err?.code === 'EPIPE') onClose();
  }
  io.stdout.on('error', onError);
  io.stdout.on('close', onClose);
  return state;
}

/**
 * A signal that fires on the first SIGINT or SIGTERM, so every stage stops and
 * removes what it half-wrote (shard files, join temp dirs). The listeners go
 * after the first signal (a second Ctrl-C ends the process at once) and when
 * the command ends.
 */
function listenForSignals() {
  const controller = new AbortController();
  const state = { signal: controller.signal, received: false, exitCode: 1, stop };
  function onSignal(name: NodeJS.Signals): void {
    stop();
    state.received = true;
    // The shell's convention: 128 + the signal's number.
    state.exitCode = name === 'SIGINT' ? 130 : 143;
    controller.abort(new Error(`interrupted by ${name}`));
  }
  function stop(): void {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return state;
}
