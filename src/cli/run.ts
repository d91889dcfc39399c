/**
 * The CLI straight from source: `node src/cli/run.ts <command> …` (Node 24
 * strips the types), for a work tree that has not been built.
 */
import { setFlagsFromString } from 'node:v8';

// The same young-generation setting as bin/batchline.js (see there for why):
// V8 would otherwise grow it to 64–128 MB under the CLI's allocation rate.
const heapFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (!/--(?:max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/.test(heapFlags)) {
  setFlagsFromString('--semi-space-growth-factor=1');
}
// Loaded after the setting, as in bin/batchline.js, so that loading it does not grow the young generation first.
const { main } = await import('./main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`batchline: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
