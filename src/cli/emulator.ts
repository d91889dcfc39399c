/** `batchline emulator`: runs the local Files/Uploads/Batches API until interrupted. */
import { once } from 'node:events';
import { OptionError } from '../errors.ts';
import { FAULT_KINDS, startEmulator, type EmulatorOptions, type FaultKind } from '../emulator/index.ts';
import { intOption, numberOption, parseCommandArgs, type Command, type CommandIO } from './command.ts';

const usage = [
  'batchline emulator [--port N] [--api-key KEY] [--batch-duration-ms N] [--error-rate R]',
  '                   [--fault-rate R] [--fault-kinds K,K…] [--token-limit N] [--state-dir DIR] [--seed N]',
  '',
  '  --port N               port on 127.0.0.1; 0 picks a free one (default 0)',
  '  --api-key KEY          require `Authorization: Bearer KEY` on every request',
  '  --batch-duration-ms N  how long a batch runs from validating to completed (default 2000)',
  '  --error-rate R         share of batch lines answered with a 4xx error, 0 … 1 (default 0)',
  '  --fault-rate R         share of requests given a random fault: 429, 500, 503, reset, truncated or slow reply (default 0)',
  '  --fault-kinds K,K…    the kinds --fault-rate picks from: ' + FAULT_KINDS.join(', ') + ' (default all)',
  '  --token-limit N        enqueued tokens allowed per model; a batch over it fails (default unlimited)',
  '  --state-dir DIR        keep files, uploads and batches in DIR across restarts (default: memory)',
  '  --seed N               seed for faults, error lines and output order (default 1)',
  '',
  'Prints `batchline emulator listening on http://127.0.0.1:PORT/v1` once it accepts connections;',
  'stops on SIGINT or SIGTERM.',
].join('\n');

export const emulatorCommand: Command = {
  summary: 'Run a local emulator of the OpenAI Files, Uploads and Batches API.',
  usage,
  async run(args: string[], io: CommandIO): Promise<number> {
    const { values } = parseCommandArgs(
      args,
      {
        port: { type: 'string' },
        'api-key': { type: 'string' },
        'batch-duration-ms': { type: 'string' },
        'error-rate': { type: 'string' },
        'fault-rate': { type: 'string' },
        'fault-kinds': { type: 'string' },
        'token-limit': { type: 'string' },
        'state-dir': { type: 'string' },
        seed: { type: 'string' },
      },
      false,
    );
    const options: EmulatorOptions = {
      port: intOption(values.port, 'port', 0) ?? 0,
      log: (line) => io.stderr.write(`${line}\n`),
    };
    // The range (0 … 65535) is the emulator's to check, with the other options.
    if (values['api-key'] !== undefined) {
      if (values['api-key'] === '') throw new OptionError('INVALID_OPTION', '--api-key must not be empty');
      options.apiKey = values['api-key'];
    }
    const duration = intOption(values['batch-duration-ms'], 'batch-duration-ms', 0);
    if (duration !== undefined) options.batchDurationMs = duration;
    const errorRate = numberOption(values['error-rate'], 'error-rate', 0, 1);
    if (errorRate !== undefined) options.errorRate = errorRate;
    const faultRate = numberOption(values['fault-rate'], 'fault-rate', 0, 1);
    if (faultRate !== undefined) options.faultRate = faultRate;
    if (values['fault-kinds'] !== undefined) options.faultKinds = faultKindsOption(values['fault-kinds']);
    const tokenLimit = intOption(values['token-limit'], 'token-limit', 1);
    if (tokenLimit !== undefined) options.tokenLimit = tokenLimit;
    const seed = intOption(values.seed, 'seed', 0);
    if (seed !== undefined) options.seed = seed;
    if (values['state-dir'] !== undefined) options.stateDir = values['state-dir'];

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

function faultKindsOption(value: string): FaultKind[] {
  const kinds = value.split(',').map((kind) => kind.trim());
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new OptionError('INVALID_OPTION', `--fault-kinds takes a comma-separated list of ${FAULT_KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
    }
  }
  return kinds as FaultKind[];
}

export default emulatorCommand;
