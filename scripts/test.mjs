// Runs the tap suite, echoes its TAP output, and closes with one plain line:
// "N passed, N failed" — counted from the real subtest results of every file.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { Parser } from 'tap-parser';

const require = createRequire(import.meta.url);
const tapBin = require.resolve('tap/package.json').replace(/package\.json$/, 'dist/esm/run.mjs');
const args = [tapBin, '--reporter=tap', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });

let passed = 0;
let failed = 0;
const failures = [];
const root = new Parser();

root.on('child', (file) => {
  let fileFailures = 0;
  file.on('assert', (point) => {
    if (point.skip || point.todo) return;
    if (point.ok) passed++;
    else {
      failed++;
      fileFailures++;
      failures.push(`${file.name} > ${point.name}`);
    }
  });
  file.on('complete', (results) => {
    // A file that crashed before any subtest finished still counts as a failure.
    if (!results.ok && fileFailures === 0) {
      failed++;
      failures.push(`${file.name} (file failed)`);
    }
  });
});

child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  root.write(chunk);
});

child.on('close', (code) => {
  root.end();
  if (failures.length > 0) {
    process.stdout.write('\nfailed tests:\n' + failures.map((f) => `  ${f}\n`).join(''));
  }
  if (code !== 0 && failed === 0) failed++;
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exitCode = code === 0 && failed === 0 ? 0 : 1;
});
