/**
 * Locality-aware load balancing with failover, Istio's semantics
 * (https://istio.io/latest/docs/tasks/traffic-management/locality-load-balancing/failover/) on
 * Envoy's priority levels (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority).
 *
 * Endpoints carry `region/zone/subzone`. Priorities relative to the caller: 0 same region, zone and
 * subzone; 1 same region and zone; 2 same region; 3 the region named by a localityLbSetting
 * `failover {from: <caller region>, to}` rule; 4 every other region. Empty levels are dropped.
 *
 * Traffic is spread over levels by health, as Envoy does: a level's health is
 * min(100, overprovisioningFactor × 100 × healthy / total) with factor 1.4 (Envoy's and Istio's
 * default), so the caller's zone keeps all traffic until fewer than 1/1.4 ≈ 71.4 % of its
 * endpoints are healthy, and then the shortfall spills to the next level. When the levels' health
 * sums to less than 100, loads are scaled up proportionally (Envoy's normalisation), so traffic
 * still flows while anything is healthy.
 */
import type { LocalityLbSetting } from '../../api/index.ts';

export const OVERPROVISIONING_FACTOR = 1.4;

export interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

/** Parse `region/zone/subzone` (missing parts are ''). */
export function parseLocality(s: string): Locality {
  const [region = '', zone = '', subzone = ''] = s.split('/');
  return { region, zone, subzone };
}

export interface LocalityEndpoint {
  key: string;
  /** `region/zone/subzone`, '' when unknown. */
  locality: string;
}

export interface PriorityLevel<E> {
  /** 0 = closest. */
  priority: number;
  endpoints: E[];
}

function priorityOf(ep: Locality, caller: Locality, failoverTo: string | undefined): number {
  if (ep.region === caller.region && caller.region !== '') {
    if (ep.zone === caller.zone && caller.zone !== '') return ep.subzone === caller.subzone ? 0 : 1;
    return 2;
  }
  if (failoverTo !== undefined && ep.region === failoverTo) return 3;
  return 4;
}

/**
 * Group endpoints into priority levels by locality, closest first. `setting.enabled === false` or an
 * unknown caller locality gives one level with every endpoint. Order within a level is kept.
 */
export function localityPriorities<E extends LocalityEndpoint>(
  endpoints: readonly E[],
  callerLocality: string,
  setting?: LocalityLbSetting,
): PriorityLevel<E>[] {
  if (setting?.enabled === false || callerLocality === '' || endpoints.length === 0)
    return endpoints.length === 0 ? [] : [{ priority: 0, endpoints: [...endpoints] }];
  const caller = parseLocality(callerLocality);
  const failoverTo = setting?.failover?.find((f) => f.from === caller.region)?.to;
  const buckets: E[][] = [[], [], [], [], []];
  for (const e of endpoints) buckets[priorityOf(parseLocality(e.locality), caller, failoverTo)]!.push(e);
  const out: PriorityLevel<E>[] = [];
  buckets.forEach((b, priority) => {
    if (b.length > 0) out.push({ priority, endpoints: b });
  });
  return out;
}

/**
 * Envoy's priority load: the percentage of traffic each level receives, given how many of its
 * endpoints are healthy. Sums to 100 when anything is healthy, else all zeros.
 */
export function priorityLoad(
  healthy: readonly number[],
  total: readonly number[],
  overprovisioningFactor = OVERPROVISIONING_FACTOR,
): number[] {
  const health = total.map((t, i) =>
    t === 0 ? 0 : Math.min(100, (overprovisioningFactor * 100 * (healthy[i] ?? 0)) / t),
  );
  const sum = health.reduce((a, b) => a + b, 0);
  if (sum === 0) return health.map(() => 0);
  // Normalise when the total health is below 100 (Envoy: normalized_total_health).
  const scale = sum < 100 ? 100 / sum : 1;
  let left = 100;
  return health.map((h) => {
    const take = Math.min(left, h * scale);
    left -= take;
    return take;
  });
}

/** Pick a level index for one request from priorityLoad percentages and a random in [0, 1). -1 when all zero. */
export function pickPriority(loads: readonly number[], random: number): number {
  let x = random * 100;
  let last = -1;
  for (let i = 0; i < loads.length; i++) {
    const l = loads[i]!;
    if (l <= 0) continue;
    last = i;
    if (x < l) return i;
    x -= l;
  }
  return last;
}

export interface LocalityPlan<E> {
  levels: PriorityLevel<E>[];
  /** Healthy endpoints per level (what the balancer of that level picks from). */
  healthy: E[][];
  /** Percentage of traffic per level. */
  loads: number[];
}

/**
 * The whole computation the forwarder caches per (cluster, endpoint or health change): levels,
 * their healthy endpoints and their loads. `isHealthy` combines active and passive health.
 */
export function planLocality<E extends LocalityEndpoint>(
  endpoints: readonly E[],
  callerLocality: string,
  isHealthy: (key: string) => boolean,
  setting?: LocalityLbSetting,
  overprovisioningFactor = OVERPROVISIONING_FACTOR,
): LocalityPlan<E> {
  const levels = localityPriorities(endpoints, callerLocality, setting);
  const healthy = levels.map((l) => l.endpoints.filter((e) => isHealthy(e.key)));
  const loads = priorityLoad(
    healthy.map((h) => h.length),
    levels.map((l) => l.endpoints.length),
    overprovisioningFactor,
  );
  return { levels, healthy, loads };
}
