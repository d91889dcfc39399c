/**
 * What a run's tokens cost: a price table (USD per million tokens) and the
 * sum over a run's usage by model. Pure: the table is data, a user's own
 * comes in as a parsed JSON object (io/price-file.ts reads one from disk).
 * A model the table does not price is listed, never costed at zero.
 */
import { OptionError } from '../errors.ts';

/** List prices of one model, USD per 1,000,000 tokens. */
export interface ModelPrice {
  input: number;
  /** Input tokens served from the prompt cache; null where the model has no cached rate (they bill as input). */
  cachedInput: number | null;
  /** Output tokens, reasoning tokens included; 0 for embedding models, which have none. */
  output: number;
}

export interface PriceTable {
  /** When the list prices were taken (YYYY-MM-DD). */
  checked: string;
  /** The share taken off list prices for Batch API work: 0.5, half price, for every rate. */
  batchDiscount: number;
  /** By model name; a dated snapshot of a name is priced as the name (see priceFor). */
  models: Readonly<Record<string, ModelPrice>>;
}

/**
 * OpenAI's list prices (USD per 1M tokens) as published on
 * developers.openai.com/api/docs/pricing, taken on 2026-11-30 from public
 * copies of that page: pydantic/genai-prices (prices/providers/openai.yml,
 * commit 47df840a of 2026-08-21) and third-party reads of the page up to
 * 2026-11-05, which agree on every figure here. The Batch API bills half of
 * each rate: the table keeps the list prices and `batchDiscount: 0.5`, and
 * estimateCost() applies it. gpt-4o-2024-05-13 kept its launch price, so it
 * has its own row. Prices change: pass your own with loadPriceTable().
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  checked: '2026-11-30',
  batchDiscount: 0.5,
  models: {
    'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
    'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
    'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
    'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
    'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
    'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
    'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
    'gpt-4o-2024-05-13': { input: 5, cachedInput: null, output: 15 },
    'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
    o3: { input: 2, cachedInput: 0.5, output: 8 },
    'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
    o1: { input: 15, cachedInput: 7.5, output: 60 },
    'text-embedding-3-small': { input: 0.02, cachedInput: null, output: 0 },
    'text-embedding-3-large': { input: 0.13, cachedInput: null, output: 0 },
    'text-embedding-ada-002': { input: 0.1, cachedInput: null, output: 0 },
  },
};

/** What follows a name in a snapshot of it: `-2024-07-18`, or the older `-0613`. */
const SNAPSHOT_SUFFIX = /^-(?:\d{4}-\d{2}-\d{2}|\d{4})$/;

/**
 * The table's row for `model`: its own, or that of the longest name of which
 * it is a dated snapshot (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`,
 * `gpt-4o-2024-05-13` → its own row). Only a snapshot suffix may follow the
 * name, so `gpt-5.5` or `o1-pro` — other models at other prices — are not
 * priced as `gpt-5` or `o1`; nor is a fine-tuned `ft:` model.
 */
export function priceFor(model: string, table: PriceTable = DEFAULT_PRICE_TABLE): { name: string; price: ModelPrice } | null {
  let best: string | null = null;
  for (const name of Object.keys(table.models)) {
    const matches = model === name || (model.startsWith(name) && SNAPSHOT_SUFFIX.test(model.slice(name.length)));
    if (matches && (best === null || name.length > best.length)) best = name;
  }
  return best === null ? null : { name: best, price: table.models[best] };
}

// ── a user's table ──

const TABLE_KEYS = new Set(['checked', 'batchDiscount', 'models']);
const PRICE_KEYS = new Set(['input', 'cachedInput', 'output']);

function invalidTable(key: string, message: string): OptionError {
  return new OptionError('INVALID_PRICE_TABLE', `price table: ${key} ${message}`, { option: key });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function priceValue(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidTable(key, `must be a price in USD per 1M tokens (a number ≥ 0), got ${JSON.stringify(value)}`);
  return value;
}

function modelPrice(model: string, value: unknown, base: ModelPrice | undefined): ModelPrice {
  const key = `models[${JSON.stringify(model)}]`;
  if (!isRecord(value)) throw invalidTable(key, `must be an object with input, output and optionally cachedInput, got ${JSON.stringify(value)}`);
  for (const field of Object.keys(value)) if (!PRICE_KEYS.has(field)) throw invalidTable(`${key}.${field}`, 'is not a price field (input, cachedInput, output)');
  // A model the base table prices may change one rate; a new model needs its input and output rates.
  for (const field of ['input', 'output'] as const) if (value[field] === undefined && base === undefined) throw invalidTable(`${key}.${field}`, 'is missing (a model the table does not price needs input and output)');
  const cached = value.cachedInput;
  return {
    input: value.input === undefined ? (base as ModelPrice).input : priceValue(value.input, `${key}.input`),
    output: value.output === undefined ? (base as ModelPrice).output : priceValue(value.output, `${key}.output`),
    cachedInput: cached === undefined ? (base?.cachedInput ?? null) : cached === null ? null : priceValue(cached, `${key}.cachedInput`),
  };
}

/**
 * `base` (the built-in table by default) with a user's JSON object laid over
 * it: `{ "checked"?: "YYYY-MM-DD", "batchDiscount"?: 0.5, "models": { "<name>":
 * { "input": 0.15, "cachedInput"?: 0.075 | null, "output": 0.6 } } }`. A model
 * the base prices may give one rate only; a new one needs input and output.
 * Anything else is INVALID_PRICE_TABLE, an OptionError whose `option` names
 * the bad key (`models["gpt-4o"].input`).
 */
export function loadPriceTable(json: unknown, base: PriceTable = DEFAULT_PRICE_TABLE): PriceTable {
  if (!isRecord(json)) throw invalidTable('(the table)', `must be a JSON object, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  for (const key of Object.keys(json)) if (!TABLE_KEYS.has(key)) throw invalidTable(key, 'is not a price table key (checked, batchDiscount, models)');
  const { checked, batchDiscount, models } = json;
  if (checked !== undefined && (typeof checked !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(checked))) throw invalidTable('checked', `must be a date as YYYY-MM-DD, got ${JSON.stringify(checked)}`);
  if (batchDiscount !== undefined && (typeof batchDiscount !== 'number' || !(batchDiscount >= 0 && batchDiscount < 1))) {
    throw invalidTable('batchDiscount', `must be a share from 0 (list price) to below 1, got ${JSON.stringify(batchDiscount)}`);
  }
  if (models !== undefined && !isRecord(models)) throw invalidTable('models', `must be an object of prices by model name, got ${JSON.stringify(models)}`);
  const merged: Record<string, ModelPrice> = { ...base.models };
  for (const [model, value] of Object.entries(models ?? {})) {
    if (model.length === 0) throw invalidTable('models[""]', 'is not a model name');
    merged[model] = modelPrice(model, value, Object.hasOwn(base.models, model) ? base.models[model] : undefined);
  }
  return { checked: checked ?? base.checked, batchDiscount: batchDiscount ?? base.batchDiscount, models: merged };
}

// ── cost ──

/** A model's tokens over a run, as the API's usage counts them: `cached_tokens` are part of `input_tokens`. */
export interface ModelUsage {
  input_tokens: number;
  output_tokens: number;
  cached_tokens?: number;
}

export interface ModelCost {
  /** The table row that priced it (the model itself, or the name it is a snapshot of). */
  pricedAs: string;
  /** USD, Batch API discount applied: uncached input, cached input, output, and their sum. */
  input: number;
  cachedInput: number;
  output: number;
  total: number;
}

export interface CostEstimate {
  /** USD over every priced model. */
  total: number;
  byModel: Record<string, ModelCost>;
  /** Models the table does not price: their cost is unknown, not zero, and left out of `total`. */
  unpriced: string[];
  /** The table's date, for saying how current the prices are. */
  pricesChecked: string;
}

function tokenCount(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new OptionError('INVALID_OPTION', `${key} must be a whole number of tokens ≥ 0, got ${JSON.stringify(value)}`, { option: key });
  }
  return value;
}

/** USD for a run's usage by model, at Batch API prices. */
export function estimateCost(usageByModel: Readonly<Record<string, ModelUsage>>, table: PriceTable = DEFAULT_PRICE_TABLE): CostEstimate {
  const estimate: CostEstimate = { total: 0, byModel: {}, unpriced: [], pricesChecked: table.checked };
  const factor = (1 - table.batchDiscount) / 1_000_000;
  for (const [model, usage] of Object.entries(usageByModel)) {
    const key = `usageByModel[${JSON.stringify(model)}]`;
    const input = tokenCount(usage?.input_tokens, `${key}.input_tokens`);
    const output = tokenCount(usage?.output_tokens, `${key}.output_tokens`);
    const cached = usage?.cached_tokens === undefined ? 0 : tokenCount(usage.cached_tokens, `${key}.cached_tokens`);
    if (cached > input) throw new OptionError('INVALID_OPTION', `${key}.cached_tokens (${cached}) must not exceed input_tokens (${input}): cached tokens are part of the input`, { option: `${key}.cached_tokens` });
    const row = priceFor(model, table);
    if (row === null) {
      estimate.unpriced.push(model);
      continue;
    }
    const { price } = row;
    const cost: ModelCost = {
      pricedAs: row.name,
      input: (input - cached) * price.input * factor,
      cachedInput: cached * (price.cachedInput ?? price.input) * factor,
      output: output * price.output * factor,
      total: 0,
    };
    cost.total = cost.input + cost.cachedInput + cost.output;
    estimate.byModel[model] = cost;
    estimate.total += cost.total;
  }
  estimate.unpriced.sort();
  return estimate;
}
