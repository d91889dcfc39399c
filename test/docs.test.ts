// The README is the reference for error codes and commands: keep it complete.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])),
  );
  return nested.flat();
}

t.test('every error code raised in src/ is listed in the README', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const codes = new Set<string>(['ABORTED', 'UNKNOWN_COMMAND']);
  for (const file of await sourceFiles(join(root, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/'([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)'/g)) codes.add(match[1]);
  }
  t.ok(codes.size > 30, `found ${codes.size} codes`);
  const undocumented = [...codes].filter((code) => !readme.includes(`\`${code}\``)).sort();
  t.same(undocumented, [], 'codes missing from the README');
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
