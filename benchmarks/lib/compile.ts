import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;

/**
 * Strips the types from `entry` and every .ts file it imports relatively,
 * writing plain .js under `outDir` (same layout, relative to `root`), so
 * that a benchmark child runs the JavaScript a published package would run,
 * without the type-stripping machinery resident in its memory.
 */
export async function compileGraph(entry: string, root: string, outDir: string): Promise<string> {
  const done = new Set<string>();
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const source = await readFile(file, 'utf8');
    const code = stripTypeScriptTypes(source, { mode: 'strip' }).replace(IMPORT, (_m, head: string, quote: string, path: string) => {
      queue.push(resolve(dirname(file), `${path}.ts`));
      return `${head}${quote}${path}.js${quote}`;
    });
    const target = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, code);
  }
  return join(outDir, relative(root, resolve(entry))).replace(/\.ts$/, '.js');
}
