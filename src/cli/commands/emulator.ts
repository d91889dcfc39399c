/** `batchline emulator`: runs the local Files/Uploads/Batches API until interrupted. */
import { once } from 'node:events';
import { invalidOption } from '../../errors.ts';
import { BATCH_FAULT_KINDS, FAULT_KINDS, startEmulator, type BatchFault, type EmulatorOptions, type FaultKind } from '../../emulator/index.ts';
import type { Command, CommandIO, FlagSpec } from '../command.ts';
import { intFlag, numberFlag, parseCommandArgs } from '../flags.ts';
import { checkDirectory } from '../paths.ts';

const flags = {
  port: { type: 'string', value: 'N', help: 'port on 127.0.0.1; 0 picks a free one (default 0)' },
  'api-key': { type: 'string', value: 'KEY', help: 'require `Authorization: Bearer KEY` on every request (default: any key)' },
  'batch-duration-ms': { type: 'string', value: 'N', help: 'how long a batch runs from validating to completed (default 2000)' },
  'error-rate': { type: 'string', value: 'R', help: 'share of custom_ids answered with a 400 in every batch, 0 … 1 (default 0)' },
  'transient-error-rate': {
    type: 'string',
    value: 'R',
    help: 'share of batch lines answered with a 500 server_error that clears when the\nrequest is sent again in a new batch, 0 … 1 (default 0)',
  },
  'fault-rate': {
    type: 'string',
    value: 'R',
    help: 'share of requests given a random fault: 429, 500, 503, reset, truncated or\nslow reply, 0 … 1 (default 0)',
  },
  'fault-kinds': { type: 'string', value: 'K,K…', help: `the kinds --fault-rate picks from: ${FAULT_KINDS.join(', ')} (default all)` },
  'token-limit': { type: 'string', value: 'N', help: 'enqueued tokens allowed per model; a batch over it fails (default unlimited)' },
  'batch-fault': {
    type: 'string',
    multiple: true,
    value: 'N:KIND',
    help: `the Nth batch created (1-based) ends by KIND: ${BATCH_FAULT_KINDS.join(', ')}\n(repeatable; expire: half way through its run, with partial results)`,
  },
  'state-dir': { type: 'string', value: 'DIR', help: 'keep files, uploads and batches in DIR across restarts (default: memory)' },
  seed: { type: 'string', value: 'N', help: 'seed for faults, error lines and output order (default 1)' },
} as const satisfies Record<string, FlagSpec>;

export const emulatorCommand: Command = {
  description: 'Run a local emulator of the OpenAI Files, Uploads and Batches API on 127.0.0.1, until interrupted.',
  usage:
    'batchline emulator [--port N] [--api-key KEY] [--batch-duration-ms N] [--error-rate R] [--transient-error-rate R]\n' +
    '                          [--fault-rate R] [--fault-kinds K,K…] [--token-limit N] [--batch-fault N:KIND]…\n' +
    '                          [--state-dir DIR] [--seed N]',
  flags,
  notes:
    'Prints `batchline emulator listening on http://127.0.0.1:PORT/v1` on stdout once it accepts\n' +
    'connections; stops on SIGINT or SIGTERM with exit 0.',
  async run(args: string[], io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs('emulator', args, flags, { min: 0, max: 0, what: 'no arguments, only flags' });
    // The emulator checks the port's range itself.
    const options: EmulatorOptions = {
      port: intFlag(values.port, 'port', 0) ?? 0,
      log: (line) => io.stderr.write(`${line}\n`),
    };
    if (values['api-key'] !== undefined) {
      if (values['api-key'] === '') throw invalidOption('--api-key', '--api-key must not be empty');
      options.apiKey = values['api-key'];
    }
    const duration = intFlag(values['batch-duration-ms'], 'batch-duration-ms', 0);
    if (duration !== undefined) options.batchDurationMs = duration;
    const errorRate = numberFlag(values['error-rate'], 'error-rate', 0, 1);
    if (errorRate !== undefined) options.errorRate = errorRate;
    const transientErrorRate = numberFlag(values['transient-error-rate'], 'transient-error-rate', 0, 1);
    if (transientErrorRate !== undefined) options.transientErrorRate = transientErrorRate;
    const faultRate = numberFlag(values['fault-rate'], 'fault-rate', 0, 1);
    if (faultRate !== undefined) options.faultRate = faultRate;
    if (values['fault-kinds'] !== undefined) options.faultKinds = faultKindsOption(values['fault-kinds']);
    const tokenLimit = intFlag(values['token-limit'], 'token-limit', 1);
    if (tokenLimit !== undefined) options.tokenLimit = tokenLimit;
    if (values['batch-fault'] !== undefined) options.batchFaults = batchFaultsOption(values['batch-fault']);
    const seed = intFlag(values.seed, 'seed', 0);
    if (seed !== undefined) options.seed = seed;
    if (values['state-dir'] !== undefined) {
      await checkDirectory(values['state-dir'], '--state-dir');
      options.stateDir = values['state-dir'];
    }

    if (io.signal?.aborted) return 0;
    const emulator = await startEmulator(options);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    io.signal?.addEventListener('abort', onSignal, { once: true });
    try {
      io.stdout.write(`batchline emulator listening on ${emulator.url}/v1\n`);
      await once(stop.signal, 'abort');
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.signal?.removeEventListener('abort', onSignal);
      await emulator.close();
    }
    io.stderr.write('batchline emulator stopped\n');
    return 0;
  },
};

/** Each `N:KIND` → {batch: N, kind}: N ≥ 1, a known kind, one fault per batch. */
function batchFaultsOption(values: string[]): BatchFault[] {
  const faults: BatchFault[] = [];
  for (const value of values) {
    const match = /^([1-9]\d{0,8}):(.+)$/.exec(value.trim());
    const kind = match?.[2];
    if (!match || !(BATCH_FAULT_KINDS as readonly string[]).includes(kind as string)) {
      throw invalidOption('--batch-fault', `--batch-fault takes N:KIND, N ≥ 1 a batch's creation order and KIND one of ${BATCH_FAULT_KINDS.join(', ')}; got ${JSON.stringify(value)}`);
    }
    const batch = Number(match[1]);
    if (faults.some((fault) => fault.batch === batch)) throw invalidOption('--batch-fault', `--batch-fault gives batch ${batch} two faults; give each batch one`);
    faults.push({ batch, kind: kind as BatchFault['kind'] });
  }
  return faults;
}

function faultKindsOption(value: string): FaultKind[] {
  const kinds = value.split(',').map((kind) => kind.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw invalidOption('--fault-kinds', `--fault-kinds takes a comma-separated list of ${FAULT_KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
    }
  }
  return kinds as FaultKind[];
}

