// The whole trip in one call: requests in, one result per request out in input order. Against the
// embedded emulator here (`local`), with 5 % of requests failing in each batch (a 500) so that
// follow-up batches heal them; against the real API, drop `local` and let OPENAI_API_KEY name the account.
// Run it again after a stop (Ctrl-C, kill -9): it resumes from the state dir.
// usage: node examples/run-batch.ts requests.jsonl results.jsonl [state-dir]
import { runBatch } from 'batchline';

const [input = 'requests.jsonl', output = 'results.jsonl', stateDir] = process.argv.slice(2);
const summary = await runBatch({
  input,
  output,
  stateDir,
  local: { batchDurationMs: 200, transientErrorRate: 0.05, seed: 3 },
  maxRequests: 100,
  maxAttempts: 6, // 0.05⁶ per request: every 500 heals
  poll: { initialDelayMs: 50, maxDelayMs: 200 },
  onProgress: (p) => p.phase === 'done' && console.error(`run ${p.runId}: ${p.requestCounts.completed} requests completed`),
});
console.log(`${summary.requests} results in input order → ${summary.output}`);
console.log(`statuses: ${JSON.stringify(summary.counts)}`);
console.log(`${summary.batches.length} batches, ${summary.followUps} follow-ups, ${summary.usage.total_tokens} tokens, ~$${summary.cost.total.toFixed(4)}`);
