/**
 * networking.istio.io/v1 DestinationRule (https://istio.io/latest/docs/reference/config/networking/destination-rule/):
 * load balancing (including consistentHash ringHash/maglev, Eisenbud et al. NSDI'16 — Maglev's
 * table size must be prime), connection pool, outlier detection, subsets. Durations use Istio's
 * protobuf Duration syntax (`1s`, `100ms`, `5m`) and, as Istio's validation requires, at least 1ms.
 */
import { dnsSubdomain, goDuration } from '../manifest/formats.ts';
import { isPrime } from '../manifest/formats.ts';
import {
  type Schema,
  obj,
  list,
  str,
  int,
  req,
  oneOf,
  bool,
  num,
  record,
  portNumber,
  lazy,
  CODES,
} from '../manifest/schema.ts';
import { labels, workloadSelector, type KindDef } from './common.ts';

export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: { name: string; path?: string; ttl?: string };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  ringHash?: { minimumRingSize?: number };
  /** tableSize must be prime; Envoy's default 65537. */
  maglev?: { tableSize?: number };
  /** Deprecated upstream in favour of ringHash.minimumRingSize. */
  minimumRingSize?: number;
}

export interface LocalityLbSetting {
  distribute?: { from: string; to: Record<string, number> }[];
  failover?: { from: string; to: string }[];
  failoverPriority?: string[];
  enabled?: boolean;
}

export interface LoadBalancerSettings {
  simple?: 'UNSPECIFIED' | 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH';
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLbSetting;
  warmupDurationSecs?: string;
}

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface ClientTLSSettings {
  mode: 'DISABLE' | 'ISTIO_MUTUAL';
}

export interface PortTrafficPolicy {
  port: { number: number };
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: PortTrafficPolicy[];
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  /** Service host: short name (resolved in the rule's namespace) or FQDN `name.ns.svc.cluster.local`. */
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: { matchLabels?: Record<string, string> };
}

const dur = () => goDuration({ minMs: 1 });
const u32 = (min = 0) => int({ min, max: 4_294_967_295 });

const consistentHash = obj<ConsistentHashLB>(
  {
    httpHeaderName: str({ min: 1 }),
    httpCookie: obj({ name: req(str({ min: 1 })), path: str(), ttl: goDuration() }),
    useSourceIp: bool(),
    httpQueryParameterName: str({ min: 1 }),
    ringHash: obj({ minimumRingSize: u32(1) }),
    maglev: obj({
      tableSize: int({
        min: 1,
        max: 5_000_011,
        check: (n) =>
          isPrime(n)
            ? undefined
            : `${n} is not prime: Maglev's lookup table size must be a prime number (e.g. 65537)`,
      }),
    }),
    minimumRingSize: u32(1),
  },
  {
    exactlyOne: [['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName']],
    atMostOne: [['ringHash', 'maglev', 'minimumRingSize']],
  },
);

const localityLb = obj<LocalityLbSetting>(
  {
    distribute: list(
      obj({ from: req(str({ min: 1 })), to: req(record(str({ min: 1 }), int({ min: 0, max: 100 }))) }),
    ),
    failover: list(obj({ from: req(str({ min: 1 })), to: req(str({ min: 1 })) })),
    failoverPriority: list(str({ min: 1 })),
    enabled: bool(),
  },
  {
    atMostOne: [['distribute', 'failover']],
    check: (l, path, cx) => {
      (l.distribute ?? []).forEach((d, i) => {
        const sum = Object.values(d.to).reduce((a, b) => a + b, 0);
        if (sum !== 100) cx.error([...path, 'distribute', i, 'to'], `weights must sum to 100 (got ${sum})`);
      });
    },
  },
);

const loadBalancer = obj<LoadBalancerSettings>(
  {
    simple: oneOf([
      'UNSPECIFIED',
      'ROUND_ROBIN',
      'LEAST_REQUEST',
      'LEAST_CONN',
      'RANDOM',
      'PASSTHROUGH',
    ] as const),
    consistentHash,
    localityLbSetting: localityLb,
    warmupDurationSecs: dur(),
  },
  { atMostOne: [['simple', 'consistentHash']] },
);

const connectionPool = obj<ConnectionPoolSettings>({
  tcp: obj({
    maxConnections: u32(1),
    connectTimeout: dur(),
    tcpKeepalive: obj({ probes: u32(), time: dur(), interval: dur() }),
    maxConnectionDuration: dur(),
    idleTimeout: goDuration(),
  }),
  http: obj({
    http1MaxPendingRequests: u32(1),
    http2MaxRequests: u32(1),
    maxRequestsPerConnection: u32(),
    maxRetries: u32(),
    idleTimeout: goDuration(),
    h2UpgradePolicy: oneOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'] as const),
    useClientProtocol: bool(),
    maxConcurrentStreams: u32(1),
  }),
});

const outlierDetection = obj<OutlierDetection>({
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: u32(),
  consecutiveGatewayErrors: u32(),
  consecutive5xxErrors: u32(),
  interval: dur(),
  baseEjectionTime: dur(),
  maxEjectionPercent: int({ min: 0, max: 100 }),
  minHealthPercent: num({ min: 0, max: 100 }),
});

const tls = obj<ClientTLSSettings>({
  mode: req({
    expected: 'a TLS mode',
    parse(v, path, cx) {
      if (v === 'SIMPLE' || v === 'MUTUAL') {
        cx.error(
          path,
          `tls mode ${v} is not supported yet: Weft originates only its own mTLS (ISTIO_MUTUAL) or none (DISABLE)`,
          CODES.unsupported,
        );
        return undefined;
      }
      return oneOf(['DISABLE', 'ISTIO_MUTUAL'] as const).parse(v, path, cx);
    },
  }),
});

const portTrafficPolicy = obj<PortTrafficPolicy>({
  port: req(obj({ number: req(portNumber()) })),
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls,
});

const trafficPolicy: Schema<TrafficPolicy> = obj<TrafficPolicy>({
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls,
  portLevelSettings: list(portTrafficPolicy, {
    uniqueBy: (p) => String((p as { port?: { number?: number } }).port?.number),
    uniqueWhat: 'port',
  }),
});

const subset = obj<Subset>({
  name: req(dnsLabel1123()),
  labels: labels(),
  trafficPolicy: lazy(() => trafficPolicy),
});

function dnsLabel1123(): Schema<string> {
  return str({
    min: 1,
    max: 63,
    pattern: /^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/,
    patternHint: 'a subset name is letters, digits, -, _ and ., starting and ending with a letter or digit',
  });
}

export const destinationRuleSpec: Schema<DestinationRuleSpec> = obj<DestinationRuleSpec>({
  host: req(
    str({
      min: 1,
      max: 253,
      pattern: /^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$/,
      patternHint:
        'host must be a service name, optionally namespace-qualified (reviews, reviews.prod.svc.cluster.local) or a *. wildcard',
    }),
  ),
  trafficPolicy,
  subsets: list(subset, { uniqueBy: (s) => (s as { name?: string }).name, uniqueWhat: 'subset name' }),
  exportTo: list(
    str({
      pattern: /^(\.|\*|~|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/,
      patternHint: 'use ".", "*", "~" or a namespace name',
    }),
  ),
  workloadSelector: workloadSelector(),
});

export const destinationRuleKind: KindDef<DestinationRuleSpec> = {
  kind: 'DestinationRule',
  apiVersion: 'networking.istio.io/v1',
  apiVersions: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: destinationRuleSpec,
  specRequired: true,
};
