/**
 * A user's price table read from a JSON file and laid over the built-in one
 * (core/prices.ts). A file that cannot be read is INPUT_UNREADABLE with its
 * path; one that is not JSON, too large, or not a valid table is
 * INVALID_PRICE_TABLE, its message starting with the path.
 */
import { open } from 'node:fs/promises';
import { IoError, OptionError } from '../errors.ts';
import { DEFAULT_PRICE_TABLE, loadPriceTable, type PriceTable } from '../core/prices.ts';
import { systemCode, systemReason } from './system-error.ts';

/** A price table is a few kilobytes; anything past this is not one (and is not read into memory). */
export const MAX_PRICE_FILE_BYTES = 1024 * 1024;

async function readCapped(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (size > MAX_PRICE_FILE_BYTES) {
      throw new OptionError('INVALID_PRICE_TABLE', `${path}: a price file of ${size} bytes is over the ${MAX_PRICE_FILE_BYTES}-byte cap`, { option: path });
    }
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof OptionError) throw err;
    throw new IoError('INPUT_UNREADABLE', `cannot read the price file ${path}: ${systemReason(err)}`, { path, syscallCode: systemCode(err), cause: err });
  } finally {
    await handle?.close();
  }
}

/** The table in the JSON file at `path` over `base` (the built-in table by default). */
export async function readPriceFile(path: string, base: PriceTable = DEFAULT_PRICE_TABLE): Promise<PriceTable> {
  const text = await readCapped(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OptionError('INVALID_PRICE_TABLE', `${path}: not JSON (${(err as Error).message})`, { option: path, cause: err });
  }
  try {
    return loadPriceTable(json, base);
  } catch (err) {
    // loadPriceTable throws only INVALID_PRICE_TABLE: the same error, with the file's path in front.
    const invalid = err as OptionError;
    throw new OptionError('INVALID_PRICE_TABLE', `${path}: ${invalid.message}`, { option: invalid.option, cause: err });
  }
}
