/**
 * What a command is (its flags, help and run) and what it runs with. Kept
 * free of imports that load code, so `batchline --help` stays light; the
 * flag parsing is in flags.ts.
 */
import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes; tests pass their own streams. */
export interface CommandIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** One flag: how node:util parseArgs reads it, and how the help explains it. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** What the value looks like in the help: `N`, `DIR`, `error|skip` … */
  value?: string;
  /** What the flag does and its default; a `\n` starts another help line. */
  help: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface Command {
  /** What the command does: the top of its help. */
  description: string;
  /** Its synopsis, printed after `usage: `. */
  usage: string;
  /** Every flag it takes; the help explains them in this order. */
  flags: FlagSpecs;
  /** Lines after the flags: exit codes, what goes where. */
  notes?: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

/** The abort reason when stdout closed under a command (`| head -1`): it stops quietly, with its clean-up. */
export class StdoutClosed extends Error {
  constructor() {
    super('stdout closed');
  }
}

/** True when the command's signal fired because stdout closed: no error report, the dispatcher ends quietly. */
export function stoppedByClosedStdout(io: CommandIO): boolean {
  return io.signal?.aborted === true && io.signal.reason instanceof StdoutClosed;
}

/** The help text of one command, the same for `batchline help <name>` and `batchline <name> --help`. */
export function commandHelp(name: string, command: Command): string {
  const rows: Array<[string, string]> = Object.entries(command.flags).map(([flag, spec]) => [
    `${spec.short ? `-${spec.short}, ` : ''}--${flag}${spec.value ? ` ${spec.value}` : ''}`,
    spec.help,
  ]);
  rows.push(['-h, --help', `print this help (the same as \`batchline help ${name}\`)`]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const flags = rows.flatMap(([left, help]) =>
    help.split('\n').map((text, i) => `  ${(i === 0 ? left : '').padEnd(width)}${text}`),
  );
  return [command.description, '', `usage: ${command.usage}`, '', 'flags:', ...flags, ...(command.notes ? ['', command.notes] : []), ''].join('\n');
}
