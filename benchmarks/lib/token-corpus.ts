/**
 * Text for tokens.bench.ts, all of it already on disk under node_modules
 * (pinned versions, so every run reads the same bytes): English prose from
 * the READMEs of the dependencies (code blocks, tags and link targets
 * removed), JavaScript source, JSON (package.json files), and thirteen
 * languages from TypeScript's translated compiler messages.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchRequest } from '../../src/types.ts';

const NODE_MODULES = join(import.meta.dirname, '..', '..', 'node_modules');

const README_PACKAGES = [
  'undici', 'fast-check', 'p-map', 'p-retry', 'tap', 'typescript', 'openai', 'busboy', 'stream-json', 'pg',
  'glob', 'chokidar', 'yargs', 'debug', 'picomatch', 'acorn', 'tar', 'ssri', 'cacache',
];
const CODE_FILES = ['undici/lib/dispatcher/client-h1.js', 'openai/core.js', 'p-map/index.js', 'fast-check/lib/fast-check-default.js'];
const LANGUAGES: Record<string, string> = {
  German: 'de', French: 'fr', Spanish: 'es', Italian: 'it', 'Portuguese (BR)': 'pt-br', Polish: 'pl', Czech: 'cs',
  Turkish: 'tr', Russian: 'ru', Japanese: 'ja', Korean: 'ko', 'Chinese (simplified)': 'zh-cn', 'Chinese (traditional)': 'zh-tw',
};

function readAll(paths: string[]): string {
  return paths.filter((path) => existsSync(path)).map((path) => readFileSync(path, 'utf8')).join('\n');
}

function prose(): string {
  return readAll(README_PACKAGES.map((name) => join(NODE_MODULES, name, 'README.md')))
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
}

function json(): string {
  return readdirSync(NODE_MODULES)
    .filter((name) => existsSync(join(NODE_MODULES, name, 'package.json')))
    .map((name) => JSON.stringify(JSON.parse(readFileSync(join(NODE_MODULES, name, 'package.json'), 'utf8'))))
    .join('\n');
}

function language(code: string): string {
  const messages = JSON.parse(readFileSync(join(NODE_MODULES, 'typescript', 'lib', code, 'diagnosticMessages.generated.json'), 'utf8'));
  return Object.values(messages as Record<string, string>).join(' ');
}

/** Each class of text, by name, as one long string. */
export function corpus(): Record<string, string> {
  const classes: Record<string, string> = {
    'English prose': prose(),
    JavaScript: readAll(CODE_FILES.map((file) => join(NODE_MODULES, file))),
    JSON: json(),
  };
  for (const [name, code] of Object.entries(LANGUAGES)) classes[name] = language(code);
  return classes;
}

const SYSTEM = 'You are a careful assistant. Answer in JSON with the keys "label" and "reason".';

/** A chat request of about `lineBytes` bytes as a JSONL line, its user message cut from `text` at `start`. */
export function chatRequest(text: string, start: number, index: number, model: string, lineBytes: number): BatchRequest {
  const request: BatchRequest = {
    custom_id: `req-${index}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: '' }], max_tokens: 256 },
  };
  const frame = Buffer.byteLength(JSON.stringify(request));
  const content = cutBytes(text, start, lineBytes - frame);
  (request.body.messages as Array<{ content: string }>)[1].content = content;
  return request;
}

/** The longest piece of `text` from `start` whose JSON string form fits in `bytes`, cut between code points. */
function cutBytes(text: string, start: number, bytes: number): string {
  let end = Math.min(text.length, start + bytes);
  let piece = text.slice(start, end);
  while (end > start && Buffer.byteLength(JSON.stringify(piece)) - 2 > bytes) {
    end -= Math.max(1, Math.floor((end - start) / 50));
    piece = text.slice(start, end);
  }
  const last = piece.charCodeAt(piece.length - 1);
  return last >= 0xd800 && last < 0xdc00 ? piece.slice(0, -1) : piece;
}

/** `count` requests cut from `text` at distinct offsets (a step of `step` characters), wrapping around. */
export function chatRequests(text: string, count: number, model: string, lineBytes: number, step: number, firstIndex = 0): BatchRequest[] {
  const requests: BatchRequest[] = [];
  const span = Math.max(1, text.length - lineBytes);
  for (let i = 0; i < count; i++) requests.push(chatRequest(text, (i * step) % span, firstIndex + i, model, lineBytes));
  return requests;
}
