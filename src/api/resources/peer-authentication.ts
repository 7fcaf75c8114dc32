/**
 * security.istio.io/v1 PeerAuthentication (https://istio.io/latest/docs/reference/config/security/peer_authentication/):
 * the mTLS mode a workload accepts, per workload and per port. UNSET inherits from the namespace,
 * then the root namespace; Weft's mesh-wide default is STRICT.
 */
import { dnsSubdomain } from '../manifest/formats.ts';
import { type Schema, obj, oneOf, record, str, dflt, CODES } from '../manifest/schema.ts';
import { workloadSelector, type KindDef } from './common.ts';

export type PeerMtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  /** Default `{mode: UNSET}` (inherit). */
  mtls: { mode: PeerMtlsMode };
  /** Workload port number (as a string key) → mode. Requires a selector (Istio). */
  portLevelMtls?: Record<string, { mode: PeerMtlsMode }>;
}

const mtls = () =>
  obj<{ mode: PeerMtlsMode }>({
    mode: dflt(oneOf(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const), 'UNSET'),
  });

export const peerAuthenticationSpec: Schema<PeerAuthenticationSpec> = obj<PeerAuthenticationSpec>(
  {
    selector: workloadSelector(),
    mtls: dflt(mtls(), () => ({ mode: 'UNSET' })),
    portLevelMtls: record(
      str({
        check: (k) =>
          /^\d{1,5}$/.test(k) && Number(k) >= 1 && Number(k) <= 65535
            ? undefined
            : `port ${JSON.stringify(k)} is not a port number (1-65535)`,
      }),
      mtls(),
    ),
  },
  {
    check: (p, path, cx) => {
      if (p.portLevelMtls && Object.keys(p.selector?.matchLabels ?? {}).length === 0)
        cx.error(
          [...path, 'portLevelMtls'],
          'portLevelMtls requires a selector with matchLabels (Istio: port numbers are per workload)',
          CODES.value,
          'key',
        );
    },
  },
);

export const peerAuthenticationKind: KindDef<PeerAuthenticationSpec> = {
  kind: 'PeerAuthentication',
  apiVersion: 'security.istio.io/v1',
  apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  namespaced: true,
  name: dnsSubdomain(),
  spec: peerAuthenticationSpec,
  specRequired: false,
};
