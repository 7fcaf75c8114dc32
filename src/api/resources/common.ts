/**
 * Pieces shared by the kinds: the KindDef every kind file exports, label maps, and the Kubernetes
 * LabelSelector (k8s.io/apimachinery/pkg/apis/meta/v1 LabelSelector, used by NetworkPolicy).
 */
import type { ResourceMeta } from '../resource.ts';
import { labelKey, labelValue } from '../manifest/formats.ts';
import { type Ctx, type Schema, obj, record, list, oneOf, str, req } from '../manifest/schema.ts';

/** How one kind is parsed. The envelope (apiVersion, kind, metadata) is handled by the manifest parser. */
export interface KindDef<Spec = unknown> {
  kind: string;
  /** The canonical apiVersion; resources are stored with it. */
  apiVersion: string;
  /** Every apiVersion accepted (aliases the upstream project served the same schema under). */
  apiVersions: readonly string[];
  namespaced: boolean;
  /** Schema of metadata.name (DNS-1123 subdomain unless the kind needs stricter). */
  name: Schema<string>;
  spec: Schema<Spec>;
  /** When false, an absent spec is parsed as `{}`. */
  specRequired: boolean;
  /** Kept only for kinds where the user supplies status (v1 Node). */
  status?: Schema<unknown>;
  /** Defaults and checks that need the metadata (e.g. Workload labels default to metadata.labels). */
  finish?: (spec: Spec, meta: ResourceMeta, cx: Ctx) => Spec;
}

export const labels = (): Schema<Record<string, string>> => record(labelKey(), labelValue());

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** Kubernetes LabelSelector: the result of matchLabels and matchExpressions are ANDed; {} selects all. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const requirement = obj<LabelSelectorRequirement>(
  {
    key: req(labelKey()),
    operator: req(oneOf(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const)),
    values: list(labelValue()),
  },
  {
    check: (r, path, cx) => {
      const n = r.values?.length ?? 0;
      if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0)
        cx.error([...path, 'values'], `must be non-empty when operator is ${r.operator}`);
      if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0)
        cx.error([...path, 'values'], `must be empty when operator is ${r.operator}`);
    },
  },
);

export const labelSelector = (): Schema<LabelSelector> =>
  obj<LabelSelector>({ matchLabels: labels(), matchExpressions: list(requirement) });

/** Kubernetes LabelSelector semantics (an empty selector matches everything). */
export function selectorMatches(sel: LabelSelector, lbls: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (lbls[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(lbls, e.key);
    const val = lbls[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !e.values!.includes(val!)) return false;
        break;
      case 'NotIn':
        if (has && e.values!.includes(val!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** matchLabels-only selector (Istio's WorkloadSelector, Service.spec.selector). */
export function matchLabelsMatch(
  sel: Readonly<Record<string, string>>,
  lbls: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(sel).every(([k, v]) => lbls[k] === v);
}

/** Istio WorkloadSelector (type.istio.io/v1beta1): `matchLabels` only. */
export const workloadSelector = (): Schema<{ matchLabels?: Record<string, string> }> =>
  obj({ matchLabels: labels() });

export const nonEmptyStr = (): Schema<string> => str({ min: 1 });
