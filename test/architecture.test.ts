/** The layout's rules, checked on the import graph of src/ (type-only imports included). */
import t from 'tap';
import { parseCircular, parseDependencyTree } from 'dpdm';

const tree = await parseDependencyTree(['src/**/*.ts'], { context: process.cwd(), transform: false, skipDynamicImports: false });
const files = Object.keys(tree).filter((file) => file.startsWith('src/'));

t.test('reads the whole source tree', async (t) => {
  t.ok(files.length > 50, `${files.length} files`);
  t.ok(files.includes('src/index.ts'));
});

t.test('no import cycle, type-only imports included', async (t) => {
  t.same(parseCircular(tree).map((cycle) => cycle.join(' -> ')), []);
});

t.test('the client side never imports the emulator', async (t) => {
  // The CLI may start an emulator (the `emulator` command, the demo, --local); so may runBatch's
  // `local: true`, through one dynamic import, so that importing runBatch loads no HTTP server.
  const allowed = (file: string) => file.startsWith('src/emulator/') || file.startsWith('src/cli/');
  const offenders = files
    .filter((file) => !allowed(file))
    .flatMap((file) =>
      (tree[file] ?? [])
        .filter((dep) => dep.id?.startsWith('src/emulator/') && !(file === 'src/run/local.ts' && String(dep.kind) === 'DynamicImport'))
        .map((dep) => `${file} -> ${dep.id}`),
    );
  t.same(offenders, []);
});

t.test('core is pure: no node: import does I/O', async (t) => {
  const io = /^(fs|fs\/promises|net|http|https|child_process|node:(fs|fs\/promises|net|http|https|child_process))$/;
  const offenders = files
    .filter((file) => file.startsWith('src/core/'))
    .flatMap((file) => (tree[file] ?? []).filter((dep) => io.test(dep.request)).map((dep) => `${file} -> ${dep.request}`));
  t.same(offenders, []);
});
