/**
 * The one conversion edge for pushed configuration: a Snapshot becomes lookup tables the data path
 * reads without searching. A snapshot the proxy cannot use is rejected here with a precise error, and
 * the proxy NACKs it and keeps its last good config.
 */
import type {
  EndpointEntry,
  InstanceEntry,
  ListenerEntry,
  NodeEntry,
  ServiceEntry,
  ServicePortEntry,
  Snapshot,
  TrafficPolicyEntry,
} from '../../api/index.ts';
import { WeftError } from '../../lib/index.ts';

export interface InboundPort {
  service: ServiceEntry;
  port: ServicePortEntry;
}

export interface RuntimeConfig {
  readonly snapshot: Snapshot;
  /** Capture listeners by `address:port`. */
  readonly listeners: ReadonlyMap<string, ListenerEntry>;
  /** Every instance by `ns/name`. */
  readonly instances: ReadonlyMap<string, InstanceEntry>;
  /** Local instances by address. */
  readonly localByAddress: ReadonlyMap<string, InstanceEntry>;
  /** Services by `ns/name`. */
  readonly services: ReadonlyMap<string, ServiceEntry>;
  /** Service ports served by a local instance, by `address:targetPort`. */
  readonly inboundPorts: ReadonlyMap<string, InboundPort[]>;
  readonly nodes: ReadonlyMap<string, NodeEntry>;
  /** DestinationRule traffic policy by service `ns/name`. */
  readonly trafficPolicies: ReadonlyMap<string, TrafficPolicyEntry>;
  /** Every endpoint by `address`, to find the node and identity behind a pooled connection. */
  readonly endpointsByAddress: ReadonlyMap<string, EndpointEntry>;
  /** FaultInjection specs by `ns/name` (route rules name them with ExtensionRef filters). */
  readonly faultInjections: ReadonlyMap<string, FaultInjectionEntry['spec']>;
  /** RateLimitPolicies by target service `ns/name`. */
  readonly rateLimitPolicies: ReadonlyMap<string, readonly RateLimitPolicyEntry[]>;
}

type FaultInjectionEntry = NonNullable<Snapshot['faultInjections']>[number];
type RateLimitPolicyEntry = NonNullable<Snapshot['rateLimitPolicies']>[number];

export function compileConfig(snapshot: Snapshot): RuntimeConfig {
  if (!snapshot || typeof snapshot.version !== 'string' || !Array.isArray(snapshot.services)) {
    throw new WeftError('WEFT_CONFIG_INVALID', 'snapshot is missing version or services');
  }
  const instances = new Map(snapshot.instances.map((i) => [`${i.namespace}/${i.name}`, i]));
  const localByAddress = new Map<string, InstanceEntry>();
  for (const key of snapshot.localInstances) {
    const inst = instances.get(key);
    if (!inst)
      throw new WeftError('WEFT_CONFIG_INVALID', `local instance ${key} is not in the instance list`);
    localByAddress.set(inst.address, inst);
  }
  const services = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const inboundPorts = new Map<string, InboundPort[]>();
  const endpointsByAddress = new Map<string, EndpointEntry>();
  for (const service of snapshot.services) {
    for (const ep of service.endpoints) {
      endpointsByAddress.set(ep.address, ep);
      if (!localByAddress.has(ep.address)) continue;
      for (const port of service.ports) {
        const key = `${ep.address}:${port.targetPort}`;
        const list = inboundPorts.get(key) ?? [];
        list.push({ service, port });
        inboundPorts.set(key, list);
      }
    }
  }
  const listeners = new Map<string, ListenerEntry>();
  for (const l of snapshot.listeners) {
    if (!instances.has(l.source)) {
      throw new WeftError(
        'WEFT_CONFIG_INVALID',
        `listener ${l.address}:${l.port} names unknown source ${l.source}`,
      );
    }
    if (!services.has(`${l.service.namespace}/${l.service.name}`)) {
      throw new WeftError('WEFT_CONFIG_INVALID', `listener ${l.address}:${l.port} names unknown service`);
    }
    listeners.set(`${l.address}:${l.port}`, l);
  }
  const rateLimitPolicies = new Map<string, RateLimitPolicyEntry[]>();
  for (const p of snapshot.rateLimitPolicies ?? []) {
    const key = `${p.service.namespace}/${p.service.name}`;
    if (!services.has(key))
      throw new WeftError(
        'WEFT_CONFIG_INVALID',
        `RateLimitPolicy ${p.namespace}/${p.name} targets unknown service ${key}`,
      );
    const list = rateLimitPolicies.get(key) ?? [];
    list.push(p);
    rateLimitPolicies.set(key, list);
  }
  return {
    snapshot,
    listeners,
    instances,
    localByAddress,
    services,
    inboundPorts,
    nodes: new Map(snapshot.nodes.map((n) => [n.name, n])),
    trafficPolicies: new Map(
      snapshot.trafficPolicies.map((t) => [`${t.service.namespace}/${t.service.name}`, t]),
    ),
    endpointsByAddress,
    faultInjections: new Map(
      (snapshot.faultInjections ?? []).map((f) => [`${f.namespace}/${f.name}`, f.spec]),
    ),
    rateLimitPolicies,
  };
}
