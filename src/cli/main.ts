import { BatchlineError } from '../errors.ts';
import type { Command, CommandIO } from './command.ts';

/** Each command lives in its own module and is loaded only when called. */
const commands: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo.ts')).demoCommand,
  validate: async () => (await import('./validate.ts')).validateCommand,
  shard: async () => (await import('./shard.ts')).shardCommand,
  emulator: async () => (await import('./emulator.ts')).emulatorCommand,
  join: async () => (await import('./join.ts')).joinCommand,
};

function helpText(): string {
  const names = Object.keys(commands).sort();
  return [
    'usage: batchline <command> [options]',
    '',
    'commands:',
    ...names.map((name) => `  ${name}`),
    '',
    'Run `batchline <command> --help` for the options of one command.',
    '',
  ].join('\n');
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(helpText());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    io.stderr.write(`batchline: UNKNOWN_COMMAND: no command ${JSON.stringify(name)}\n\n${helpText()}`);
    return 1;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.stderr.write(`${formatError(err)}\n`);
    return 1;
  }
}

/** One line a person can read: the code, the message and where it happened. */
export function formatError(err: unknown): string {
  if (err instanceof BatchlineError) {
    const where = Object.entries(err.toJSON())
      .filter(([key]) => key !== 'code' && key !== 'message')
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(' ');
    return `batchline: ${err.code}: ${err.message}${where ? ` (${where})` : ''}`;
  }
  const code = (err as { code?: unknown })?.code;
  return `batchline: ${typeof code === 'string' ? code : 'UNEXPECTED'}: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * The real process's streams, and a signal that fires on the first SIGINT or
 * SIGTERM so every stage stops and removes what it half-wrote (shard files,
 * join temp dirs). A second Ctrl-C finds no handler and ends the process at once.
 */
function processIO(): CommandIO {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal };
}
