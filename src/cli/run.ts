/**
 * The CLI straight from source: `node src/cli/run.ts <command> …` (Node 24
 * strips the types), for a work tree that has not been built.
 */
import { setFlagsFromString } from 'node:v8';
import { main } from './main.ts';

// The same young-generation setting as bin/batchline.js (see there for why):
// V8 would otherwise grow it to 64–128 MB under the CLI's allocation rate.
const heapFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (!/--(?:max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/.test(heapFlags)) {
  setFlagsFromString('--semi-space-growth-factor=1');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`batchline: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
