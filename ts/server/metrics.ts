/**
 * GET /metrics: the server's counters in Prometheus text exposition format (version 0.0.4).
 *
 *   tensorloom_requests_total{route,status}     counter    HTTP requests answered
 *   tensorloom_prompt_tokens_total              counter    prompt tokens processed
 *   tensorloom_prompt_tokens_computed_total     counter    prompt tokens run through the model (n choices fork one prefill)
 *   tensorloom_prompt_tokens_cached_total       counter    prompt tokens a slot's cache already held (prompt caching: not run)
 *   tensorloom_generated_tokens_total           counter    tokens generated
 *   tensorloom_queue_depth                      gauge      requests waiting for a slot (the HPA's metric)
 *   tensorloom_slots_busy / _slots_total        gauge      KV-cache slots decoding now / in all
 *   tensorloom_requests_in_flight               gauge      HTTP requests being answered
 *   tensorloom_time_to_first_token_seconds      histogram  submission → first generated token
 *   tensorloom_time_per_output_token_seconds    histogram  mean gap between later tokens, per request
 */
import type { GenerateResult, SchedulerStats } from './scheduler.js';

const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TPOT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]!) this.counts[i]!++;
  }
  lines(name: string): string[] {
    const out = this.bounds.map((b, i) => `${name}_bucket{le="${b}"} ${this.counts[i]}`);
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`);
    return out;
  }
}

/** Routes get their own label; anything else is counted as "other" (no unbounded label values). */
const ROUTES = new Set(['/v1/completions', '/v1/chat/completions', '/v1/models', '/tokenize', '/detokenize', '/metrics', '/health']);

export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private promptTokens = 0;
  private cachedPromptTokens = 0;
  private generatedTokens = 0;
  private readonly ttft = new Histogram(TTFT_BUCKETS);
  private readonly tpot = new Histogram(TPOT_BUCKETS);

  /** Counts one answered HTTP request. */
  request(path: string, status: number): void {
    const route = ROUTES.has(path) ? path : path.startsWith('/v1/models/') ? '/v1/models' : 'other';
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** Records a finished generation's token counts and latencies. */
  generation(r: GenerateResult): void {
    this.promptTokens += r.usage.promptTokens;
    this.cachedPromptTokens += r.usage.cachedPromptTokens;
    this.generatedTokens += r.usage.completionTokens;
    if (r.usage.completionTokens > 0) this.ttft.observe(r.timings.firstTokenMs / 1000);
    if (r.usage.completionTokens > 1) {
      this.tpot.observe((r.timings.totalMs - r.timings.firstTokenMs) / 1000 / (r.usage.completionTokens - 1));
    }
  }

  /** The exposition text; `stats` is the scheduler's state now. */
  render(stats: SchedulerStats, inFlight: number): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    metric('tensorloom_requests_total', 'counter', 'HTTP requests answered, by route and status code.', [...this.requests].map(([k, v]) => `tensorloom_requests_total{${k}} ${v}`));
    metric('tensorloom_prompt_tokens_total', 'counter', 'Prompt tokens processed.', [`tensorloom_prompt_tokens_total ${this.promptTokens}`]);
    metric('tensorloom_prompt_tokens_computed_total', 'counter', 'Prompt tokens run through the model (a prompt forked into n choices counts once).', [`tensorloom_prompt_tokens_computed_total ${stats.promptTokensRun}`]);
    metric('tensorloom_prompt_tokens_cached_total', 'counter', 'Prompt tokens a KV-cache slot already held from an earlier request (prompt caching: not run again).', [`tensorloom_prompt_tokens_cached_total ${this.cachedPromptTokens}`]);
    metric('tensorloom_generated_tokens_total', 'counter', 'Tokens generated.', [`tensorloom_generated_tokens_total ${this.generatedTokens}`]);
    metric('tensorloom_queue_depth', 'gauge', 'Requests accepted and waiting for a KV-cache slot.', [`tensorloom_queue_depth ${Math.max(0, stats.outstanding - stats.slots)}`]);
    metric('tensorloom_queue_capacity', 'gauge', 'Requests that may wait before 429.', [`tensorloom_queue_capacity ${stats.maxQueued}`]);
    metric('tensorloom_slots_busy', 'gauge', 'KV-cache slots holding a sequence now.', [`tensorloom_slots_busy ${stats.slotsBusy}`]);
    metric('tensorloom_slots_total', 'gauge', 'KV-cache slots (sequences decoded together).', [`tensorloom_slots_total ${stats.slots}`]);
    metric('tensorloom_requests_in_flight', 'gauge', 'HTTP requests being answered now.', [`tensorloom_requests_in_flight ${inFlight}`]);
    metric('tensorloom_time_to_first_token_seconds', 'histogram', 'Time from submission to the first generated token.', this.ttft.lines('tensorloom_time_to_first_token_seconds'));
    metric('tensorloom_time_per_output_token_seconds', 'histogram', 'Mean time between generated tokens after the first, per request.', this.tpot.lines('tensorloom_time_per_output_token_seconds'));
    return out.join('\n') + '\n';
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
