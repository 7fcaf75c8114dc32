/**
 * weft.dev/v1alpha1 Invariant: a property of the whole policy set that `weft policy verify` proves
 * or refutes with a concrete request (docs/policy-analysis.md, "Invariants"). Exactly one of:
 * - `deny: {from, to, operation}` — no request from `from` to `to` matching `operation` is allowed;
 * - `onlyFrom` + `to` (+ `operation`) — only sources in `onlyFrom` may reach `to`;
 * - `requireMtls: STRICT` + `to` — every port of `to` requires mTLS.
 * Selector fields are ANDed and their values ORed; an absent selector selects everything. String
 * values take the AuthorizationPolicy forms (exact, `prefix*`, `*suffix`, `*`).
 */
import { dnsSubdomain } from '../manifest/formats.ts';
import { type Schema, obj, oneOf, list, record, str, portNumber, CODES } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';

export interface InvariantPeerSpec {
  namespaces?: string[];
  /** SPIFFE IDs, with or without `spiffe://`. */
  principals?: string[];
  /** `name` (this namespace) or `ns/name`. */
  workloads?: string[];
  labels?: Record<string, string>;
}

export interface InvariantDestinationSpec extends InvariantPeerSpec {
  /** `name` (this namespace) or `ns/name`. */
  services?: string[];
  /** Service ports or workload ports. */
  ports?: number[];
}

export interface InvariantOperationSpec {
  methods?: string[];
  paths?: string[];
  /** Header name → value. */
  headers?: Record<string, string>;
}

export interface InvariantSpec {
  description?: string;
  deny?: { from?: InvariantPeerSpec; to?: InvariantDestinationSpec; operation?: InvariantOperationSpec };
  onlyFrom?: InvariantPeerSpec;
  requireMtls?: 'STRICT';
  to?: InvariantDestinationSpec;
  operation?: InvariantOperationSpec;
}

const strings = () => list(str({ min: 1 }));
const peerFields = {
  namespaces: strings(),
  principals: strings(),
  workloads: strings(),
  labels: record(str({ min: 1 }), str()),
};
const peer = (): Schema<InvariantPeerSpec> => obj<InvariantPeerSpec>(peerFields);
const destination = (): Schema<InvariantDestinationSpec> =>
  obj<InvariantDestinationSpec>({ ...peerFields, services: strings(), ports: list(portNumber()) });
const operation = (): Schema<InvariantOperationSpec> =>
  obj<InvariantOperationSpec>({
    methods: strings(),
    paths: strings(),
    headers: record(str({ min: 1 }), str()),
  });

export const invariantSpec: Schema<InvariantSpec> = obj<InvariantSpec>(
  {
    description: str(),
    deny: obj({ from: peer(), to: destination(), operation: operation() }),
    onlyFrom: peer(),
    requireMtls: oneOf(['STRICT'] as const),
    to: destination(),
    operation: operation(),
  },
  {
    check: (s, path, cx) => {
      const kinds = (['deny', 'onlyFrom', 'requireMtls'] as const).filter((k) => s[k] !== undefined);
      if (kinds.length !== 1) {
        cx.error(
          path,
          kinds.length === 0
            ? 'one of deny, onlyFrom or requireMtls is required'
            : `only one of deny, onlyFrom or requireMtls may be set (found ${kinds.join(', ')}); write one Invariant per property`,
          CODES.value,
        );
        return;
      }
      if (s.deny !== undefined && (s.to !== undefined || s.operation !== undefined))
        cx.error(
          [...path, s.to !== undefined ? 'to' : 'operation'],
          'with deny, put to and operation inside deny',
          CODES.value,
          'key',
        );
      if (s.requireMtls !== undefined && s.operation !== undefined)
        cx.error(
          [...path, 'operation'],
          'requireMtls is about ports; operation does not apply',
          CODES.value,
          'key',
        );
    },
  },
);

export const invariantKind: KindDef<InvariantSpec> = {
  kind: 'Invariant',
  apiVersion: 'weft.dev/v1alpha1',
  apiVersions: ['weft.dev/v1alpha1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: invariantSpec,
  specRequired: true,
};
