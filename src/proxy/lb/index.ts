/** Load balancing: pick an endpoint per DestinationRule trafficPolicy.loadBalancer (Istio shape). */
export {
  createBalancer,
  resolveLbAlgorithm,
  RoundRobinBalancer,
  RandomBalancer,
  LeastRequestBalancer,
  RingHashBalancer,
  MaglevBalancer,
} from './balancer.ts';
export type {
  Balancer,
  BalancerDeps,
  LbAlgorithm,
  LbEndpoint,
  LoadBalancerSettings,
  PickContext,
} from './balancer.ts';
export { hashKeyFor } from './hash-key.ts';
export type { HashKeySource } from './hash-key.ts';
export { InflightCounter } from './inflight.ts';
export { murmur3 } from './hash.ts';
export {
  buildMaglevTable,
  maglevLookup,
  isPrime,
  DEFAULT_MAGLEV_TABLE_SIZE,
  MAX_MAGLEV_TABLE_SIZE,
} from './maglev.ts';
export { buildRing, ringLookup, DEFAULT_MINIMUM_RING_SIZE, MAXIMUM_RING_SIZE } from './ring-hash.ts';
export type { Ring } from './ring-hash.ts';
