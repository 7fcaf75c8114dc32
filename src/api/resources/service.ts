/**
 * v1 Service (Kubernetes core/v1 ServiceSpec, the subset a mesh uses): a selector over workload
 * labels and ports. Weft resolves each port's application protocol the way Istio does
 * (https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/):
 * `appProtocol` first (http, http2, grpc, tcp, and the Kubernetes standard `kubernetes.io/h2c`,
 * `kubernetes.io/ws`), else the port name's prefix (`http-web`, `grpc`, `tcp-db`), else tcp. The
 * parsed `appProtocol` is always normalised to one of http, http2, grpc, tcp.
 */
import type { AppProtocol } from '../wire/snapshot.ts';
import { dns1035Label, dnsLabel, portNumberOrName, labelValue, labelKey } from '../manifest/formats.ts';
import { type Schema, obj, list, record, str, req, dflt, portNumber, CODES } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';

export interface ServicePort {
  /** Required when the Service has more than one port; unique. DNS-1123 label. */
  name?: string;
  port: number;
  /** Port on the workload: a number, or the name of one of the workload's `ports`. Default: `port`. */
  targetPort: number | string;
  /** Transport protocol; Weft carries TCP only. Default TCP. */
  protocol: 'TCP';
  /** Normalised application protocol (see module comment). */
  appProtocol: AppProtocol;
}

export interface ServiceSpec {
  /** Default ClusterIP, the only type Weft serves. */
  type: 'ClusterIP';
  /** Workloads (same namespace) whose `spec.labels` contain all of these. Absent: no endpoints. */
  selector?: Record<string, string>;
  ports: ServicePort[];
}

const APP_PROTOCOLS: Record<string, AppProtocol> = {
  http: 'http',
  http2: 'http2',
  grpc: 'grpc',
  tcp: 'tcp',
  'kubernetes.io/h2c': 'http2',
  'kubernetes.io/ws': 'http',
};

/** Istio's port-name prefixes that imply a protocol Weft understands. */
const NAME_PREFIXES: [string, AppProtocol][] = [
  ['http2', 'http2'],
  ['http', 'http'],
  ['grpc-web', 'http'],
  ['grpc', 'grpc'],
  ['tcp', 'tcp'],
];

/** Istio protocol selection from a port name: `<protocol>[-<suffix>]`. */
export function protocolFromPortName(name: string | undefined): AppProtocol | undefined {
  if (!name) return undefined;
  const lower = name.toLowerCase();
  for (const [prefix, proto] of NAME_PREFIXES)
    if (lower === prefix || lower.startsWith(prefix + '-')) return proto;
  return undefined;
}

const appProtocolSchema: Schema<string> = str({
  check: (v) =>
    Object.hasOwn(APP_PROTOCOLS, v.toLowerCase()) || Object.hasOwn(APP_PROTOCOLS, v)
      ? undefined
      : `${JSON.stringify(v)} is not a supported appProtocol: use one of ${Object.keys(APP_PROTOCOLS).join(', ')}`,
});

const servicePort = obj<Omit<ServicePort, 'appProtocol'> & { appProtocol?: string }>({
  name: dnsLabel(),
  port: req(portNumber()),
  targetPort: portNumberOrName(),
  protocol: dflt(
    str({
      check: (v) =>
        v === 'TCP'
          ? undefined
          : v === 'UDP' || v === 'SCTP'
            ? `${v} is not supported yet: Weft carries TCP only`
            : `${JSON.stringify(v)} is not one of TCP, UDP, SCTP`,
    }),
    'TCP',
  ),
  appProtocol: appProtocolSchema,
});

export const serviceSpec: Schema<ServiceSpec> = obj<ServiceSpec>(
  {
    type: dflt(
      str({
        check: (v) =>
          v === 'ClusterIP'
            ? undefined
            : `Service type ${JSON.stringify(v)} is not supported: Weft serves ClusterIP services only`,
      }),
      'ClusterIP',
    ),
    selector: record(labelKey(), labelValue()),
    ports: req(
      list(servicePort, {
        min: 1,
        uniqueBy: (p) => (p as { port?: unknown }).port?.toString(),
        uniqueWhat: 'port',
      }),
    ),
  },
  {
    check: (s, path, cx) => {
      const ports = s.ports as (ServicePort & { appProtocol?: string })[];
      const names = new Map<string, number>();
      ports.forEach((p, i) => {
        if (ports.length > 1 && p.name === undefined)
          cx.error(
            [...path, 'ports', i, 'name'],
            'required when the Service has more than one port',
            CODES.required,
          );
        if (p.name !== undefined) {
          if (names.has(p.name))
            cx.error(
              [...path, 'ports', i, 'name'],
              `duplicate port name ${JSON.stringify(p.name)} (first at index ${names.get(p.name)})`,
              CODES.duplicate,
            );
          names.set(p.name, i);
        }
        p.targetPort ??= p.port;
        const given = p.appProtocol;
        p.appProtocol =
          (given !== undefined ? (APP_PROTOCOLS[given] ?? APP_PROTOCOLS[given.toLowerCase()]) : undefined) ??
          protocolFromPortName(p.name) ??
          'tcp';
      });
    },
  },
);

export const serviceKind: KindDef<ServiceSpec> = {
  kind: 'Service',
  apiVersion: 'v1',
  apiVersions: ['v1'],
  namespaced: true,
  name: dns1035Label(),
  spec: serviceSpec,
  specRequired: true,
};
