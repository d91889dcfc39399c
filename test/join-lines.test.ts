/**
 * The join's JSON-line form (runBatch's sink writes it from the result
 * lines' bytes) says exactly what the object form says, for every kind of
 * result line: checked line by line against JSON.stringify of the object.
 */
import t from 'tap';
import { ResultMatcher, type MatchCounts } from '../src/core/join/match.ts';
import { findTopLevelValues } from '../src/core/join/json-scan.ts';

const counts = (): MatchCounts => ({ succeeded: 0, failed: 0, rejected: 0, expired: 0, cancelled: 0, missing: 0, duplicates: 0, unknown: 0, conflicting: 0 });

const input = (id: string, crlf = false) => Buffer.from(JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'm', input: 'é' } }) + (crlf ? '\r' : ''));
const record = (line: string) => ({ header: { source: 0, line: 1 }, line: Buffer.from(line) });

const RESULTS: Array<[string, string]> = [
  ['a', '{"id":"1","custom_id":"a","response":{"status_code":200,"request_id":"r","body":{"x":[1,{"y":"}"}]}},"error":null}'],
  ['b', '{"id": "2", "custom_id": "b", "response": {"status_code": 200, "request_id": "r", "body": {"ok": true}}, "error": null}'],
  ['c', '{"id":"3","custom_id":"c","response":{"status_code":500,"request_id":"r","body":{"error":{"message":"m"}}},"error":null}'],
  ['d', '{"id":"4","custom_id":"d","response":{"status_code":400,"request_id":"r","body":{}},"error":null}'],
  ['e', '{"id":"5","custom_id":"e","response":null,"error":{"code":"batch_expired","message":"gone"}}'],
  ['f\u00e9"q', '{"id":"6","custom_id":"f\\u00e9\\"q","response":{"status_code":200,"request_id":"r","body":{}},"error":null}'],
  ['g', '{"custom_id":"g","error":null,"response":{"status_code":200,"request_id":"r","body":{}}}'],
  // A nested "response" that reads as a success ahead of the top-level one, a 500.
  ['h', '{"id":"8","custom_id":"h","meta":{"response":{"status_code":200,"x":1}},"response":{"status_code":500,"request_id":"r","body":{}},"error":null}'],
];

for (const includeRequest of [false, true]) {
  t.test(`matchLine equals JSON.stringify(match) for every kind of result line (includeRequest ${includeRequest})`, async (t) => {
    const objects = new ResultMatcher({ sourceNames: ['out'], includeRequest, onIssue: undefined }, counts());
    const lineCounts = counts();
    const lines = new ResultMatcher({ sourceNames: ['out'], includeRequest, onIssue: undefined }, lineCounts);
    for (const [i, [id, result]] of RESULTS.entries()) {
      const bytes = input(id, i === 2);
      const expected = objects.match(bytes, i + 1, [record(result)]);
      const actual = lines.matchLine(bytes, i + 1, [record(result)]);
      t.same(JSON.parse(actual.toString('utf8')), JSON.parse(JSON.stringify(expected)), `${id}: ${expected.status}`);
    }
    const missing = lines.matchLine(input('z'), 9, []);
    t.same(JSON.parse(missing.toString()), JSON.parse(JSON.stringify(objects.match(input('z'), 9, []))));
    t.same(lineCounts, { succeeded: 4, failed: 2, rejected: 1, expired: 1, cancelled: 0, missing: 1, duplicates: 0, unknown: 0, conflicting: 0 });
  });
}

t.test('a result line that looks like a success but is not valid JSON is refused, never copied', async (t) => {
  const lines = new ResultMatcher({ sourceNames: ['out'], includeRequest: false, onIssue: undefined }, counts());
  const broken = '{"id":"9","custom_id":"i","response":{"status_code":200,"request_id":"r","body":{"x":tru}},"error":null}';
  t.throws(() => lines.matchLine(input('i'), 1, [record(broken)]), { code: 'INVALID_RESULT_LINE' });
});

t.test('findTopLevelValues: spans of top-level values, null when the line is not plainly one object', async (t) => {
  const line = Buffer.from('{"a":1,"b":{"a":2},"c":"x"}');
  const spans = findTopLevelValues(line, [Buffer.from('b'), Buffer.from('a'), Buffer.from('z')]);
  t.same(spans?.map((s) => (s ? line.subarray(s.start, s.end).toString() : null)), ['{"a":2}', '1', null]);
  t.same(findTopLevelValues(Buffer.from(' {} '), [Buffer.from('a')]), [null]);
  for (const bad of ['[1]', '{"a":1,"a":2}', '{"a":1} x', '{"a" 1}', '{"\\u0061":1}', '{"a":1', '{"a":"1}', '{1:2}']) {
    t.equal(findTopLevelValues(Buffer.from(bad), [Buffer.from('a')]), null, bad);
  }
});
