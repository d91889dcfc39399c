/**
 * The CLI straight from source: `node src/cli/run.ts <command> …` (Node 24
 * strips the types), for a work tree that has not been built.
 */
import { main } from './main.ts';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`batchline: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
