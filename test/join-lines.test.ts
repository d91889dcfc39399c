/**
 * The join's JSON-line form (runBatch's sink writes it from the result
 * lines' bytes) says exactly what the object form says, for every kind of
 * result line: checked line by line against JSON.stringify of the object.
 */
import t from 'tap';
import { ResultMatcher, type MatchCounts } from '../src/core/join/match.ts';
import { scanJsonText, type MemberWatch } from '../src/core/join/json-scan.ts';

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
  // A status_code given twice, or again under an escaped name: JSON.parse reads the last.
  ['i', '{"id":"9","custom_id":"i","response":{"status_code":200,"status_code":500,"request_id":"r","body":{}},"error":null}'],
  ['j', '{"id":"10","custom_id":"j","response":{"status_code":200,"status\\u005fcode":429,"request_id":"r","body":{}},"error":null}'],
  // An error given twice, the first under an escaped name: the last (null) stands.
  ['k', '{"id":"11","custom_id":"k","response":{"status_code":200,"request_id":"r","body":{}},"\\u0065rror":{"code":"x","message":"m"},"error":null}'],
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
    t.same(lineCounts, { succeeded: 5, failed: 3, rejected: 2, expired: 1, cancelled: 0, missing: 1, duplicates: 0, unknown: 0, conflicting: 0 });
  });
}

t.test('a result line that looks like a success but is not valid JSON is refused, never copied', async (t) => {
  const lines = new ResultMatcher({ sourceNames: ['out'], includeRequest: false, onIssue: undefined }, counts());
  const broken = '{"id":"9","custom_id":"i","response":{"status_code":200,"request_id":"r","body":{"x":tru}},"error":null}';
  t.throws(() => lines.matchLine(input('i'), 1, [record(broken)]), { code: 'INVALID_RESULT_LINE' });
});

t.test('scanJsonText tells the members at depth 1 and 2 with their value spans, and refuses what isJsonText refuses', async (t) => {
  const seen: string[] = [];
  const watch = (line: Buffer, refuse = ''): MemberWatch => {
    let keys: string[] = [];
    return {
      key(bytes, depth, start, end) {
        const key = bytes.subarray(start, end).toString();
        keys[depth] = key;
        return key !== refuse;
      },
      value(depth, start, end) {
        seen.push(`${depth}:${keys[depth]}=${line.subarray(start, end).toString()}`);
      },
    };
  };
  const line = Buffer.from('{"a":1,"b":{"a":[2,{"deep":3}],"c":{}},"d":"x\\"y","e":[ {"no":1} ]}');
  t.equal(scanJsonText(line, watch(line)), true);
  t.same(seen, ['1:a=1', '2:a=[2,{"deep":3}]', '2:c={}', '1:b={"a":[2,{"deep":3}],"c":{}}', '1:d="x\\"y"', '1:e=[ {"no":1} ]']);
  t.equal(scanJsonText(line, watch(line, 'c')), false, 'a watch refuses the text');
  for (const bad of ['[1', '{"a":1,}', '{"a" 1}', '{"a":01}', '{"a":"\\u12"}', '{"a":1} x', '']) {
    t.equal(scanJsonText(Buffer.from(bad), watch(Buffer.from(bad))), false, bad);
  }
});
