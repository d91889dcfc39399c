import t from 'tap';
import { AMBIGUOUS, CustomIdIndex, NOT_FOUND } from '../src/core/join/custom-id-index.ts';
import { hashBytes64 } from '../src/core/hash.ts';
import { findTopLevelString, isJsonText } from '../src/core/join/json-scan.ts';
import { customIdOf, customIdText, requestIdOf } from '../src/core/join/custom-id.ts';
import { parseResultLine, resultStatus } from '../src/core/join/result-line.ts';
import { planPartitions, splitRange } from '../src/core/join/partition.ts';
import { resultFor } from './helpers/join-fixtures.ts';

const KEY = Buffer.from('custom_id');
const spanText = (line: string) => {
  const bytes = Buffer.from(line);
  const span = findTopLevelString(bytes, KEY);
  return span && bytes.toString('utf8', span.start, span.end);
};

t.test('finds the top-level custom_id past nested values, strings with quotes and numbers', async (t) => {
  t.equal(spanText('{"custom_id":"a"}'), 'a');
  t.equal(spanText(' { "id" : "x\\"y", "n": -1.5e3, "t": true, "o": {"custom_id": "inner", "a": [1, {"b": "}"}]}, "custom_id" : "outer" }'), 'outer');
  t.equal(spanText('{"response":{"body":"custom_id\\\\"},"custom_id":"r-1"}'), 'r-1');
  t.equal(spanText('{"custom_id": "a\\"b"}'), 'a\\"b', 'the raw span, escapes still in');
});

t.test('leaves lines it cannot read plainly to JSON.parse (returns null)', async (t) => {
  for (const line of ['[1]', '{}', '{"custom_id": 5}', '{"custom\\u005fid": "a"}', '{"custom_id" "a"}', '{"a": [1, 2}', 'nope', '']) {
    t.equal(findTopLevelString(Buffer.from(line), KEY), null, line);
  }
});

t.test('reads custom_ids as canonical UTF-8, whatever the escaping', async (t) => {
  const forms = ['{"custom_id":"café-🙂"}', '{"custom_id":"caf\\u00e9-\\ud83d\\ude42"}', '{"custom\\u005fid":"café-🙂"}'];
  for (const form of forms) {
    const id = customIdOf(Buffer.from(form));
    t.ok(id, form);
    t.same(id!.bytes, Buffer.from('café-🙂'), form);
    t.equal(customIdText(id!), 'café-🙂');
  }
  t.equal(customIdOf(Buffer.from('{"custom_id": null}')), null);
  t.equal(customIdOf(Buffer.from('not json')), null);
});

t.test('names the input line that has no usable custom_id', async (t) => {
  const origin = { source: 'input', line: 7 };
  t.throws(() => requestIdOf(Buffer.from('{"custom_id": '), origin), { code: 'INVALID_JSON', line: 7 });
  t.throws(() => requestIdOf(Buffer.from('[1,2]'), origin), { code: 'INVALID_REQUEST', name: 'ValidationError', line: 7 });
  t.throws(() => requestIdOf(Buffer.from('{"method":"POST"}'), origin), { code: 'MISSING_CUSTOM_ID', line: 7 });
  t.throws(() => requestIdOf(Buffer.from('{"custom_id": 12}'), origin), { code: 'INVALID_CUSTOM_ID', line: 7 });
  // A bad escape inside the custom_id: the fast scan finds the span, decoding it must not throw uncoded.
  t.equal(customIdOf(Buffer.from(String.raw`{"custom_id":"a\qb","x":1}`)), null);
  t.throws(() => requestIdOf(Buffer.from(String.raw`{"custom_id":"a\qb","x":1}`), origin), { code: 'INVALID_JSON', line: 7 });
  t.throws(() => requestIdOf(Buffer.from(String.raw`{"custom_id":"a\qb","x":1}`), origin, true), { code: 'INVALID_JSON', line: 7 });
});

t.test('gives every result its status', async (t) => {
  for (const status of ['succeeded', 'rejected', 'expired', 'cancelled', 'failed'] as const) {
    t.equal(resultStatus(resultFor('x', status)), status, status);
  }
  const response = (statusCode: number) => ({ id: '', custom_id: 'x', response: { status_code: statusCode, request_id: '', body: null }, error: null });
  t.equal(resultStatus(response(500)), 'failed', 'a 5xx answer is a server-side failure, worth sending again');
  t.equal(resultStatus(response(503)), 'failed');
  t.equal(resultStatus(response(400)), 'rejected', 'a 4xx answer is a rejection of the request itself');
  t.equal(resultStatus(response(429)), 'rejected');
  t.equal(resultStatus(response(201)), 'rejected', 'only a 200 is a success');
  t.equal(resultStatus({ id: '', custom_id: 'x', response: { status_code: 200, request_id: '', body: null }, error: { code: 'batch_expired', message: '' } }), 'expired');
});

t.test('refuses result lines of the wrong shape with their source and line', async (t) => {
  const origin = { source: 'results[1] (err.jsonl)', line: 3 };
  const bad = [
    'x',
    '[]',
    '{"custom_id": 1, "response": null, "error": {"code": "e"}}',
    '{"custom_id": "a", "response": null, "error": null}',
    '{"custom_id": "a", "response": {"status_code": "200"}, "error": null}',
    '{"custom_id": "a", "response": null, "error": {"message": "no code"}}',
  ];
  for (const line of bad) {
    t.throws(() => parseResultLine(Buffer.from(line), origin), { code: 'INVALID_RESULT_LINE', line: 3, message: /results\[1\] \(err\.jsonl\) line 3/ }, line);
  }
  t.same(parseResultLine(Buffer.from(JSON.stringify(resultFor('a', 'succeeded'))), origin), resultFor('a', 'succeeded'));
});

t.test('the index finds each ordinal, misses unknown keys and never guesses between equal keys', async (t) => {
  const index = new CustomIdIndex();
  const key = new Int32Array(2);
  const ids = Array.from({ length: 70_000 }, (_, i) => `req-${i}`);
  for (const id of ids) {
    const bytes = Buffer.from(id);
    hashBytes64(bytes, 0, bytes.length, key);
    index.append(key[0], key[1]);
  }
  index.append(7, 9);
  index.append(7, 9);
  index.seal();
  for (const [ordinal, id] of ids.entries()) {
    const bytes = Buffer.from(id);
    hashBytes64(bytes, 0, bytes.length, key);
    if (index.lookup(key[0], key[1]) !== ordinal) t.fail(`${id} not at ${ordinal}`);
  }
  const unknown = Buffer.from('req-70000');
  hashBytes64(unknown, 0, unknown.length, key);
  t.equal(index.lookup(key[0], key[1]), NOT_FOUND);
  t.equal(index.lookup(7, 9), AMBIGUOUS);
  t.equal(index.ambiguousKeys, 1);
  // 8 bytes per request in 64 Ki-entry chunks, plus a table of 4 bytes per slot at load ≤ 0.75.
  const expected = Math.ceil(70_002 / 65_536) * 65_536 * 8 + (Math.ceil(70_002 / 0.75) + 1) * 4;
  t.equal(index.bytes, expected, `${index.bytes} bytes for 70,002 requests`);
});

t.test('plans partitions within the file cap and cuts oversized ranges evenly', async (t) => {
  t.same(planPartitions(0, 10, 4), { span: 1, count: 0 });
  t.same(planPartitions(100, 10, 4), { span: 25, count: 4 });
  t.same(planPartitions(95, 10, 400), { span: 10, count: 10 });
  const parts = splitRange({ first: 10, end: 20 }, 1000, 300, 64);
  t.equal(parts[0].first, 10);
  t.equal(parts.at(-1)!.end, 20);
  for (let i = 1; i < parts.length; i++) t.equal(parts[i].first, parts[i - 1].end);
  t.ok(parts.length >= 4);
  t.same(splitRange({ first: 0, end: 2 }, 10_000, 10, 64), [{ first: 0, end: 1 }, { first: 1, end: 2 }]);
});

t.test('with wholeLine, accepts only lines whose structure closes', async (t) => {
  const whole = (line: string) => findTopLevelString(Buffer.from(line), KEY, true) !== null;
  t.ok(whole('{"custom_id":"a","body":{"x":[1,{"y":"}"}]}}  '));
  t.ok(whole('{"body":{"x":1},"custom_id":"a"}'));
  t.notOk(whole('{"custom_id":"a","body":{"x":1}'), 'truncated');
  t.notOk(whole('{"custom_id":"a",'), 'cut after a comma');
  t.notOk(whole('{"custom_id":"a"} x'), 'trailing bytes');
  t.notOk(whole('{"custom_id":"a" "b":1}'), 'missing comma');
  t.ok(findTopLevelString(Buffer.from('{"custom_id":"a",'), KEY), 'the fast form stops at the id');
});

t.test('isJsonText agrees with JSON.parse, line by line', async (t) => {
  const lines = [
    '{"custom_id":"a","body":{"n":[1,-0,2.5e-3,1E+2,true,false,null],"s":"\\u00e9\\n\\/\\"","o":{}}}',
    ' [ ] ', '"x"', '0', '-1.5', 'null', '{"a":[{"b":[[]]}]}', '"\u00e9\ud83d\ude42"',
    '{"n":tru}', '{"n":nul}', '{"n":falsey}', '{"n":01}', '{"n":1.}', '{"n":.5}', '{"n":+1}', '{"n":1e}', '{"n":-}',
    '{"s":"a\\qb"}', '{"s":"\\u12G4"}', '{"s":"tab\there"}', '{"s":"open}', '{"a":1,}', '[1,]', '{"a" 1}', '{1:2}',
    '{"a":1}}', '[1] x', '', '   ', '\ufeff{}', '{"a":[1}', '{"a":{"b":1]}', 'tr', 'f', 'n',
  ];
  for (const line of lines) {
    let parses = true;
    try {
      JSON.parse(line);
    } catch {
      parses = false;
    }
    t.equal(isJsonText(Buffer.from(line)), parses, JSON.stringify(line));
  }
  // Invalid UTF-8 inside a string decodes to U+FFFD, which JSON.parse accepts; outside one it does not.
  t.ok(isJsonText(Buffer.from([0x22, 0xff, 0x22])));
  t.notOk(isJsonText(Buffer.from([0xff])));
  t.ok(isJsonText(Buffer.from('['.repeat(10_000) + ']'.repeat(10_000))), 'deep nesting needs no recursion');
});

t.test('with checkLine, refuses an input line that is not JSON past its custom_id', async (t) => {
  const origin = { source: 'input', line: 3 };
  const broken = Buffer.from('{"custom_id":"a","method":"POST","body":{"n":tru}}');
  t.same(customIdText(requestIdOf(broken, origin)), 'a', 'the fast scan alone stops at the id');
  t.throws(() => requestIdOf(broken, origin, true), { code: 'INVALID_JSON', line: 3, message: /input line 3: not valid JSON/ });
  t.same(customIdText(requestIdOf(Buffer.from('{"custom\\u005fid":"b","x":[1]}'), origin, true)), 'b', 'an escaped key is read by JSON.parse');
});
