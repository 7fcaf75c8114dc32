/**
 * weft.dev/v1alpha1 MeshConfig: mesh-wide settings, cluster-scoped, at most one per mesh (a
 * cross-resource check). Mirrors the parts of Istio's MeshConfig Weft has: the trust domain, the
 * root namespace whose policies apply everywhere, plus Weft's default-deny switch and SVID lifetime.
 */
import type { Resource } from '../resource.ts';
import { dnsLabel, dnsSubdomain, goDuration, goDurationMs } from '../manifest/formats.ts';
import { type Schema, obj, oneOf, bool, num, dflt } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';

export interface MeshConfigSpec {
  /** SPIFFE trust domain. Default `cluster.local`. */
  trustDomain: string;
  /** What a workload with no ALLOW policy accepts: `deny` (Weft's default) or `allow` (Istio's). */
  defaultPolicy: 'deny' | 'allow';
  /** SVID lifetime, a duration between 10m and 720h. Default `1h`. */
  certTtl: string;
  /** Namespace whose policies apply mesh-wide. Default `weft-system`. */
  rootNamespace: string;
  telemetry: {
    /** Write an access log line per request. Default false. */
    accessLog: boolean;
    /** Trace sampling percentage 0-100. Default 1. */
    sampling: number;
  };
}

export const MESH_DEFAULTS: MeshConfigSpec = Object.freeze({
  trustDomain: 'cluster.local',
  defaultPolicy: 'deny',
  certTtl: '1h',
  rootNamespace: 'weft-system',
  telemetry: Object.freeze({ accessLog: false, sampling: 1 }),
}) as MeshConfigSpec;

export const meshConfigSpec: Schema<MeshConfigSpec> = obj<MeshConfigSpec>({
  trustDomain: dflt(dnsSubdomain(), MESH_DEFAULTS.trustDomain),
  defaultPolicy: dflt(oneOf(['deny', 'allow'] as const), 'deny'),
  certTtl: dflt(
    {
      expected: 'a duration',
      parse(v, path, cx) {
        const s = goDuration().parse(v, path, cx);
        if (s === undefined) return undefined;
        const ms = goDurationMs(s)!;
        if (ms < 600_000 || ms > 720 * 3_600_000) {
          cx.error(path, `${JSON.stringify(s)} is out of range: certTtl must be between 10m and 720h`);
          return undefined;
        }
        return s;
      },
    },
    '1h',
  ),
  rootNamespace: dflt(dnsLabel(), MESH_DEFAULTS.rootNamespace),
  telemetry: dflt(
    obj({ accessLog: dflt(bool(), false), sampling: dflt(num({ min: 0, max: 100 }), 1) }),
    () => ({
      accessLog: false,
      sampling: 1,
    }),
  ),
});

export const meshConfigKind: KindDef<MeshConfigSpec> = {
  kind: 'MeshConfig',
  apiVersion: 'weft.dev/v1alpha1',
  apiVersions: ['weft.dev/v1alpha1'],
  namespaced: false,
  name: dnsSubdomain(),
  spec: meshConfigSpec,
  specRequired: false,
};

/** The effective mesh settings: the (at most one) MeshConfig's spec, or the defaults. */
export function meshSettingsOf(resources: readonly Resource[]): MeshConfigSpec {
  const mc = resources.find((r) => r.kind === 'MeshConfig') as Resource<MeshConfigSpec> | undefined;
  return mc?.spec ?? MESH_DEFAULTS;
}

/** certTtl in whole seconds. */
export function certTtlSeconds(spec: MeshConfigSpec): number {
  return Math.round((goDurationMs(spec.certTtl) ?? 3_600_000) / 1000);
}
