// The emulator's state directory: damaged records are refused with a code,
// leftovers of interrupted writes are cleared, and a failed write leaves nothing.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { startEmulator } from '../src/emulator/index.ts';
import { writeJsonAtomic } from '../src/io/atomic-write.ts';
import { tempDir } from './helpers/temp.ts';

t.test('a damaged file or upload record stops the start with EMULATOR_STATE_CORRUPT naming the file', async (t) => {
  for (const [sub, name, body] of [
    ['files', 'file-abc.json', '{"id": "file-abc", "obj'],
    ['files', 'file-def.json', '{"hello": "world"}'],
    ['uploads', 'upload_abc.json', 'not json'],
    ['uploads', 'upload_def.json', '{"upload": {}}'],
  ] as const) {
    const stateDir = await tempDir(t);
    await mkdir(join(stateDir, sub), { recursive: true });
    await writeFile(join(stateDir, sub, name), body);
    if (sub === 'files') await writeFile(join(stateDir, sub, name.replace('.json', '.body')), 'x');
    await t.rejects(startEmulator({ stateDir }), { code: 'EMULATOR_STATE_CORRUPT', message: new RegExp(name.replace('.', '\\.')) }, `${sub}/${name}`);
  }
});

t.test('temp files of interrupted upload writes are cleared at start', async (t) => {
  const stateDir = await tempDir(t);
  await mkdir(join(stateDir, 'uploads'), { recursive: true });
  await writeFile(join(stateDir, 'uploads', 'upload_x.json.0a1b2c.tmp'), '{"half');
  const emulator = await startEmulator({ stateDir });
  await emulator.close();
  t.same(await readdir(join(stateDir, 'uploads')), []);
});

t.test('a write that fails leaves neither the target nor its temp file', async (t) => {
  const dir = await tempDir(t);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await t.rejects(writeJsonAtomic(join(dir, 'record.json'), circular), TypeError);
  t.same(await readdir(dir), []);
});
