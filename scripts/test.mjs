// Runs the tap suite, echoes its TAP output, and closes with one plain line:
// "N passed, N failed", counted from the real results: every test (a `t.test`
// with no subtests of its own, or an assertion at a file's top level) counts once.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { Parser } from 'tap-parser';

const require = createRequire(import.meta.url);
const tapBin = require.resolve('tap/package.json').replace(/package\.json$/, 'dist/esm/run.mjs');
const args = [tapBin, '--reporter=tap', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });

// tap's own 100 % gate is off (.taprc); these floors hold the whole suite's coverage instead.
const COVERAGE_FLOORS = { statements: 95, branches: 89, functions: 90, lines: 95 };
const wholeSuite = process.argv.slice(2).every((arg) => arg.startsWith('-'));
let coverage;
let passed = 0;
let skipped = 0;
let failed = 0;
const failures = [];

/** Follows one parser; `depth` 1 is a test file's own stream. Returns how many tests it counted below it. */
function follow(parser, depth, path) {
  let pendingChild; // the subtest whose closing test point comes next
  let counted = 0;
  parser.on('child', (sub) => {
    const state = follow(sub, depth + 1, [...path, sub.name]);
    pendingChild = state;
  });
  parser.on('assert', (point) => {
    const sub = pendingChild;
    pendingChild = undefined;
    const isGroup = sub !== undefined && sub.counted() > 0;
    // In a file, every top-level point is a test; deeper down, only subtests are (not assertions).
    const isTest = sub !== undefined || depth === 1;
    if (isGroup || !isTest) return;
    counted++;
    if (point.skip || point.todo) {
      skipped++;
      return;
    }
    if (point.ok) passed++;
    else {
      failed++;
      failures.push([...path, point.name].join(' > '));
    }
  });
  return { counted: () => counted };
}

const root = new Parser();
root.on('child', (file) => follow(file, 1, [file.name]));
root.on('assert', (point) => {
  // A file that failed without a failing test in it (it crashed, or timed out) still counts.
  if (!point.ok && !point.skip && !failures.some((f) => f.startsWith(`${point.name} > `))) {
    failed++;
    failures.push(`${point.name} (the file failed)`);
  }
});

let pending = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  root.write(chunk);
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) {
    const m = /^All files\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)/.exec(line);
    if (m) coverage = { statements: +m[1], branches: +m[2], functions: +m[3], lines: +m[4] };
  }
});

child.on('close', (code) => {
  root.end();
  if (wholeSuite) {
    const low = coverage
      ? Object.entries(COVERAGE_FLOORS).filter(([kind, floor]) => coverage[kind] < floor)
      : [['coverage', 'a report']];
    if (low.length > 0) {
      failed++;
      failures.push(`coverage below its floor: ${low.map(([k, f]) => `${k} ${coverage?.[k] ?? 'none'} < ${f}`).join(', ')}`);
    }
  }
  if (failures.length > 0) process.stdout.write('\nfailed tests:\n' + failures.map((f) => `  ${f}\n`).join(''));
  if (code !== 0 && failed === 0) {
    // tap failed without a failing test: coverage or a crash outside any test.
    failed++;
    process.stdout.write(`\ntap exited with code ${code} outside any test\n`);
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  process.exitCode = code === 0 && failed === 0 ? 0 : 1;
});
