// The README is the reference for error codes and commands: keep it complete.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import * as errors from '../src/errors.ts';
import { ERROR_CODES, type ErrorCodeInfo } from '../src/errors.ts';

const root = join(import.meta.dirname, '..');

/** The codes in the first column of the README's error-code table. */
function readmeErrorCodes(readme: string): string[] {
  const section = readme.slice(readme.indexOf('\n## Error codes\n'));
  const table = section.slice(0, section.indexOf('\n## ', 1));
  const codes: string[] = [];
  for (const row of table.split('\n').filter((line) => line.startsWith('| `'))) {
    const firstCell = row.split('|')[1];
    for (const match of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) codes.push(match[1]);
  }
  return codes;
}

t.test("the README's error-code table and ERROR_CODES list the same codes", async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const documented = readmeErrorCodes(readme);
  const registered = Object.keys(ERROR_CODES);
  t.ok(documented.length > 60, `${documented.length} codes in the README's table`);
  t.same(registered.filter((code) => !documented.includes(code)).sort(), [], 'registered codes missing from the README');
  t.same(documented.filter((code) => !Object.hasOwn(ERROR_CODES, code)).sort(), [], 'README codes missing from ERROR_CODES');
  t.same(documented.filter((code, i) => documented.indexOf(code) !== i), [], 'each code in one row');
});

t.test('every error class ERROR_CODES names is exported from src/errors.ts, with its codes', async (t) => {
  for (const [code, info] of Object.entries(ERROR_CODES) as Array<[string, ErrorCodeInfo]>) {
    if (info.class === null) continue;
    const ErrorClass = (errors as unknown as Record<string, unknown>)[info.class];
    t.type(ErrorClass, 'function', `${code}: ${info.class}`);
    t.ok((ErrorClass as { prototype: unknown }).prototype instanceof errors.BatchlineError || ErrorClass === errors.BatchlineError, `${info.class} is a BatchlineError`);
    t.ok(info.meaning.length > 10, `${code} has a meaning`);
  }
});

t.test('every CLI command is documented in the README', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const { COMMANDS } = await import('../src/cli/main.ts');
  const commands = Object.keys(COMMANDS);
  t.ok(commands.length >= 5);
  for (const command of commands) {
    t.match(readme, new RegExp(`batchline ${command} `), command);
    // Every flag of the command is in the README's CLI section too.
    for (const flag of Object.keys((await COMMANDS[command].load()).flags)) t.match(readme, `--${flag}`, `${command} --${flag}`);
  }
});
