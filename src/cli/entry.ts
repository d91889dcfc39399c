/**
 * The CLI's process entry: bin/batchline.js runs its built form, and `node
 * src/cli/entry.ts <command> …` runs it straight from source (Node 24 strips
 * the types), for a work tree that has not been built.
 */
import { setFlagsFromString } from 'node:v8';

// Under a high allocation rate V8 grows its young generation to 64–128 MB, and
// a batchline run allocates at that rate from start to end, so the growth
// would be most of its resident memory while the data it holds stays small.
// A growth factor of 1 keeps the young generation at its starting size; it is
// read at each collection, so it works when set here (--max-semi-space-size is
// read only at start-up and would not). Left alone when the command line or
// NODE_OPTIONS sizes the young generation itself.
const heapFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (!/--(?:max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/.test(heapFlags)) {
  setFlagsFromString('--semi-space-growth-factor=1');
}

// A reader that goes away (`| head -1`) makes the next write fail with EPIPE. While a command runs the
// dispatcher stops it quietly; a write still queued after that must not end the process with a stack trace.
process.stdout.on('error', () => undefined);

// Loaded only now: loading the CLI's modules before the setting grows the young generation from
// 2 MB to 4 MB (measured) and it would then stay there.
const { main } = await import('./main.ts');
const { formatError } = await import('./format-error.ts');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${formatError(err)}\n`);
    process.exitCode = 1;
  },
);
