import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { OptionError } from '../src/errors.ts';
import { DEFAULT_PRICE_TABLE, estimateCost, loadPriceTable, priceFor } from '../src/core/prices.ts';
import { MAX_PRICE_FILE_BYTES, readPriceFile } from '../src/io/price-file.ts';
import { tempDir } from './helpers/temp.ts';

const close = (t: { ok(value: boolean, message: string): unknown }, got: number, want: number, message: string) => t.ok(Math.abs(got - want) < 1e-12, `${message}: ${got} ≈ ${want}`);

t.test('the built-in table: list prices of the common models, a date, half price for batches', async (t) => {
  t.match(DEFAULT_PRICE_TABLE.checked, /^\d{4}-\d{2}-\d{2}$/);
  t.equal(DEFAULT_PRICE_TABLE.batchDiscount, 0.5);
  const models = ['gpt-5', 'gpt-5-mini', 'gpt-5-nano', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini', 'o3', 'o4-mini', 'o1', 'text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002'];
  for (const model of models) {
    const price = DEFAULT_PRICE_TABLE.models[model];
    t.ok(price && price.input > 0 && price.output >= 0, model);
    t.ok(price.cachedInput === null || price.cachedInput < price.input, `${model}: the cached rate is below the input rate`);
  }
  t.same(DEFAULT_PRICE_TABLE.models['gpt-4o-mini'], { input: 0.15, cachedInput: 0.075, output: 0.6 });
  t.same(DEFAULT_PRICE_TABLE.models['gpt-5'], { input: 1.25, cachedInput: 0.125, output: 10 });
});

t.test('priceFor: a dated snapshot is priced as its name; the longest name wins', async (t) => {
  t.equal(priceFor('gpt-4o-mini')?.name, 'gpt-4o-mini');
  t.equal(priceFor('gpt-4o-mini-2024-07-18')?.name, 'gpt-4o-mini');
  t.equal(priceFor('gpt-4o-2024-08-06')?.name, 'gpt-4o');
  t.equal(priceFor('gpt-4o-2024-05-13')?.name, 'gpt-4o-2024-05-13', 'its own row, not gpt-4o');
  t.equal(priceFor('gpt-4.1-nano-2025-04-14')?.name, 'gpt-4.1-nano');
  t.equal(priceFor('o3-2025-04-16')?.name, 'o3');
  t.equal(priceFor('gpt-5-mini-2025-08-07')?.name, 'gpt-5-mini');
  const table = loadPriceTable({ models: { 'gpt-4': { input: 30, output: 60 } } });
  t.equal(priceFor('gpt-4-0613', table)?.name, 'gpt-4', 'the older four-digit snapshots');
  for (const other of ['gpt-5.5', 'gpt-5-pro', 'o1-pro', 'o3-mini', 'gpt-4o-audio-preview', 'ft:gpt-4o-mini-2024-07-18:acme::x', 'gpt-4o-mini-2024-07', 'GPT-4o', '']) {
    t.equal(priceFor(other), null, `${other || '(empty)'} is another model`);
  }
});

t.test('estimateCost: Batch prices, cached input at its rate, output, summed by model', async (t) => {
  const estimate = estimateCost({
    'gpt-4o-mini-2024-07-18': { input_tokens: 3_000_000, cached_tokens: 1_000_000, output_tokens: 500_000 },
    'text-embedding-3-small': { input_tokens: 10_000_000, output_tokens: 0 },
  });
  const mini = estimate.byModel['gpt-4o-mini-2024-07-18'];
  t.equal(mini.pricedAs, 'gpt-4o-mini');
  close(t, mini.input, 2 * 0.15 * 0.5, 'uncached input');
  close(t, mini.cachedInput, 1 * 0.075 * 0.5, 'cached input');
  close(t, mini.output, 0.5 * 0.6 * 0.5, 'output');
  close(t, mini.total, 0.15 + 0.0375 + 0.15, 'model total');
  close(t, estimate.byModel['text-embedding-3-small'].total, 10 * 0.02 * 0.5, 'embeddings');
  close(t, estimate.total, 0.3375 + 0.1, 'run total');
  t.same(estimate.unpriced, []);
  t.equal(estimate.pricesChecked, DEFAULT_PRICE_TABLE.checked);
});

t.test('estimateCost: cached tokens of a model without a cached rate bill as input', async (t) => {
  const estimate = estimateCost({ 'gpt-4o-2024-05-13': { input_tokens: 2_000_000, cached_tokens: 2_000_000, output_tokens: 0 } });
  close(t, estimate.total, 2 * 5 * 0.5, 'all input at the input rate');
});

t.test('estimateCost: an unknown model is listed, never costed at zero', async (t) => {
  const estimate = estimateCost({
    'my-fine-tune': { input_tokens: 5_000_000, output_tokens: 1_000_000 },
    'gpt-5.5': { input_tokens: 1, output_tokens: 1 },
    'gpt-5-nano': { input_tokens: 1_000_000, output_tokens: 1_000_000 },
    unused: { input_tokens: 0, output_tokens: 0 },
  });
  t.same(estimate.unpriced, ['gpt-5.5', 'my-fine-tune', 'unused']);
  t.same(Object.keys(estimate.byModel), ['gpt-5-nano']);
  close(t, estimate.total, (0.05 + 0.4) * 0.5, 'only the priced model in the total');
  t.same(estimateCost({}), { total: 0, byModel: {}, unpriced: [], pricesChecked: DEFAULT_PRICE_TABLE.checked });
});

t.test('estimateCost: with a table of its own, its discount and its models', async (t) => {
  const table = loadPriceTable({ batchDiscount: 0, checked: '2027-01-15', models: { 'my-fine-tune': { input: 0.3, output: 1.2 } } });
  const estimate = estimateCost({ 'my-fine-tune': { input_tokens: 1_000_000, output_tokens: 1_000_000 } }, table);
  close(t, estimate.total, 1.5, 'list price, no discount');
  t.equal(estimate.pricesChecked, '2027-01-15');
});

t.test('estimateCost: bad token counts name themselves', async (t) => {
  t.throws(() => estimateCost({ 'gpt-4o': { input_tokens: -1, output_tokens: 0 } }), { code: 'INVALID_OPTION', option: 'usageByModel["gpt-4o"].input_tokens' });
  t.throws(() => estimateCost({ 'gpt-4o': { input_tokens: 1, output_tokens: 0.5 } }), { code: 'INVALID_OPTION', option: 'usageByModel["gpt-4o"].output_tokens' });
  t.throws(() => estimateCost({ 'gpt-4o': { input_tokens: 1, output_tokens: 0, cached_tokens: Number.NaN } }), { code: 'INVALID_OPTION', option: 'usageByModel["gpt-4o"].cached_tokens' });
  t.throws(() => estimateCost({ 'gpt-4o': { input_tokens: 1, output_tokens: 0, cached_tokens: 2 } }), { code: 'INVALID_OPTION', message: /must not exceed input_tokens/ });
  t.throws(() => estimateCost({ 'gpt-4o': null as never }), { code: 'INVALID_OPTION', option: 'usageByModel["gpt-4o"].input_tokens' });
});

t.test('loadPriceTable: overrides a rate, adds a model, keeps the rest', async (t) => {
  const table = loadPriceTable({ models: { 'gpt-4o-mini': { output: 0.5 }, 'gpt-4o': { cachedInput: null }, 'ft:gpt-4o-mini-2024-07-18:acme::x': { input: 0.3, cachedInput: 0.15, output: 1.2 } } });
  t.same(table.models['gpt-4o-mini'], { input: 0.15, cachedInput: 0.075, output: 0.5 }, 'one rate changed');
  t.same(table.models['gpt-4o'], { input: 2.5, cachedInput: null, output: 10 }, 'the cached rate removed');
  t.same(table.models['ft:gpt-4o-mini-2024-07-18:acme::x'], { input: 0.3, cachedInput: 0.15, output: 1.2 });
  t.same(table.models.o3, DEFAULT_PRICE_TABLE.models.o3);
  t.equal(table.checked, DEFAULT_PRICE_TABLE.checked);
  t.equal(table.batchDiscount, 0.5);
  t.same(DEFAULT_PRICE_TABLE.models['gpt-4o-mini'].output, 0.6, 'the built-in table is untouched');
  t.same(loadPriceTable({}), DEFAULT_PRICE_TABLE, 'an empty object is the base');
  const onOwnBase = loadPriceTable({ models: { b: { input: 1, output: 2 } } }, { checked: '2020-01-01', batchDiscount: 0.25, models: { a: { input: 1, cachedInput: null, output: 1 } } });
  t.same(Object.keys(onOwnBase.models), ['a', 'b']);
  t.equal(onOwnBase.batchDiscount, 0.25);
});

t.test('loadPriceTable: INVALID_PRICE_TABLE names the bad key', async (t) => {
  const cases: Array<[unknown, string]> = [
    [null, '(the table)'],
    [[], '(the table)'],
    [{ prices: {} }, 'prices'],
    [{ checked: 'yesterday' }, 'checked'],
    [{ batchDiscount: 1 }, 'batchDiscount'],
    [{ batchDiscount: -0.1 }, 'batchDiscount'],
    [{ batchDiscount: '0.5' }, 'batchDiscount'],
    [{ models: [] }, 'models'],
    [{ models: { 'gpt-4o': 2.5 } }, 'models["gpt-4o"]'],
    [{ models: { 'gpt-4o': { input: -1 } } }, 'models["gpt-4o"].input'],
    [{ models: { 'gpt-4o': { output: '10' } } }, 'models["gpt-4o"].output'],
    [{ models: { 'gpt-4o': { cachedInput: Infinity } } }, 'models["gpt-4o"].cachedInput'],
    [{ models: { 'gpt-4o': { inputs: 1 } } }, 'models["gpt-4o"].inputs'],
    [{ models: { 'new-model': { input: 1 } } }, 'models["new-model"].output'],
    [{ models: { 'new-model': { output: 1 } } }, 'models["new-model"].input'],
    [{ models: { '': { input: 1, output: 1 } } }, 'models[""]'],
  ];
  for (const [json, key] of cases) {
    const err = t.throws(() => loadPriceTable(json), { code: 'INVALID_PRICE_TABLE', option: key }, key) as unknown;
    t.ok(err instanceof OptionError && err.message.includes(key), `${key}: the message names it`);
  }
});

t.test('readPriceFile: a JSON file over the built-in table', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'prices.json');
  await writeFile(path, JSON.stringify({ checked: '2027-02-01', models: { 'gpt-5-nano': { input: 0.04 } } }));
  const table = await readPriceFile(path);
  t.equal(table.models['gpt-5-nano'].input, 0.04);
  t.equal(table.models['gpt-5-nano'].output, 0.4);
  t.equal(table.checked, '2027-02-01');
});

t.test('readPriceFile: a file that cannot be read is INPUT_UNREADABLE with its path', async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, 'missing.json');
  await t.rejects(readPriceFile(missing), { code: 'INPUT_UNREADABLE', path: missing, syscallCode: 'ENOENT', message: /does not exist/ });
  const directory = join(dir, 'a-directory');
  await mkdir(directory);
  await t.rejects(readPriceFile(directory), { code: 'INPUT_UNREADABLE', path: directory, syscallCode: 'EISDIR' });
  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked.json');
    await writeFile(locked, '{}');
    await chmod(locked, 0o000);
    await t.rejects(readPriceFile(locked), { code: 'INPUT_UNREADABLE', syscallCode: 'EACCES' });
  }
});

t.test('readPriceFile: not JSON, too large, or a bad table is INVALID_PRICE_TABLE naming the file and the key', async (t) => {
  const dir = await tempDir(t);
  const notJson = join(dir, 'not.json');
  await writeFile(notJson, '{"models": {');
  await t.rejects(readPriceFile(notJson), { code: 'INVALID_PRICE_TABLE', option: notJson, message: new RegExp(`^${notJson}: not JSON`) });
  const large = join(dir, 'large.json');
  await writeFile(large, `{"models": {}, "checked": "2020-01-01"${' '.repeat(MAX_PRICE_FILE_BYTES)}}`);
  await t.rejects(readPriceFile(large), { code: 'INVALID_PRICE_TABLE', message: /over the 1048576-byte cap/ });
  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ models: { 'gpt-4o': { input: 'cheap' } } }));
  await t.rejects(readPriceFile(bad), { code: 'INVALID_PRICE_TABLE', option: 'models["gpt-4o"].input', message: new RegExp(`^${bad}: price table: models\\["gpt-4o"\\]\\.input`) });
});
