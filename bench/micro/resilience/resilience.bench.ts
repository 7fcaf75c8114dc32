/**
 * The resilience layer's cost per request when nothing fails (the issue asks for near zero): what
 * the forwarder calls on the success path — classify, budget.recordRequest, breaker acquire/release,
 * outlier record + filtered view, health view, fault decision at 0 %, local rate-limit check — and
 * all of them together.
 */
import { systemClock } from '../../../src/lib/index.ts';
import {
  CircuitBreaker,
  Classifier,
  HealthChecker,
  OutlierDetector,
  RetryBudget,
  breakerThresholds,
  compileFault,
  decideFault,
  outlierConfig,
  parseHealthCheckAnnotation,
  httpRetryPolicy,
  routeTimeouts,
  tryTimeoutMs,
} from '../../../src/proxy/resilience/index.ts';
import { RateLimiter } from '../../../src/proxy/ratelimit/index.ts';
import type { MicroBenchmark } from '../harness.ts';

const endpoints = Array.from({ length: 10 }, (_, i) => ({ key: `10.0.0.${i}:8080` }));
const classifier = new Classifier();
const budget = new RetryBudget({ clock: systemClock });
const breaker = new CircuitBreaker('reviews', breakerThresholds({ http: { http2MaxRequests: 1024 } }));
const outlier = new OutlierDetector(outlierConfig({}), systemClock);
outlier.setEndpoints(endpoints.map((e) => e.key));
const health = new HealthChecker(parseHealthCheckAnnotation('{}'), systemClock, () => Promise.resolve(true));
const fault = compileFault({ abort: { httpStatus: 503, percentage: 0 } });
const limiter = new RateLimiter(
  'shop/limits',
  {
    targetRef: { group: '', kind: 'Service', name: 'reviews' },
    mode: 'local',
    failureMode: 'open',
    rules: [{ name: 'all', descriptors: [], limit: { requests: 1_000_000_000, unit: 'second' } }],
  },
  systemClock,
);
const req = {
  sourceIdentity: 'spiffe://cluster.local/ns/shop/sa/productpage',
  path: '/',
  route: '',
  header: () => undefined,
};
let i = 0;
// What outbound.ts #run adds per request on the success path, in its order (see the last case).
const rule = {};
const rulePolicies = new WeakMap<object, unknown>([
  [rule, { retry: httpRetryPolicy(undefined), timeouts: routeTimeouts(undefined), fault: undefined }],
]);
const retry = httpRetryPolicy(undefined);
const timeouts = routeTimeouts(undefined);
let view: readonly { key: string }[] | undefined = endpoints;

export const benchmarks: MicroBenchmark[] = [
  { name: 'classify 200', fn: () => classifier.classify(200) },
  { name: 'retry budget recordRequest', fn: () => budget.recordRequest() },
  {
    name: 'breaker tryAcquire+release',
    fn: () => {
      breaker.tryAcquire('requests');
      breaker.release('requests');
    },
  },
  { name: 'outlier record 200', fn: () => outlier.record(endpoints[i++ % 10]!.key, 200) },
  { name: 'outlier + health filter (nothing ejected)', fn: () => health.filter(outlier.filter(endpoints)) },
  { name: 'decideFault at 0 %', fn: () => decideFault(fault, Math.random) },
  { name: 'local rate limit check (1 rule)', fn: () => limiter.check(req) },
  {
    name: 'whole success path (no rate limit)',
    fn: () => {
      budget.recordRequest();
      decideFault(fault, Math.random);
      const eps = health.filter(outlier.filter(endpoints));
      breaker.tryAcquire('requests');
      const ep = eps[i++ % eps.length]!;
      const c = classifier.classify(200);
      outlier.record(ep.key, 200);
      breaker.release('requests');
      return c;
    },
  },
  {
    name: 'wired success path, as outbound #run does it (no fault, no timeout)',
    fn: () => {
      rulePolicies.get(rule);
      if (!breaker.tryAcquire('requests')) return 0;
      if (breaker.activeRequests > breaker.thresholds.maxConnections) return 0;
      budget.recordRequest();
      const eps = health.filter(outlier.filter(endpoints));
      if (eps !== view) view = eps;
      const ep = eps[i++ % eps.length]!;
      tryTimeoutMs(timeouts, 0, 0);
      outlier.record(ep.key, 200);
      const c = retry.classifier.classify(200, -1);
      breaker.release('requests');
      return c;
    },
  },
];
