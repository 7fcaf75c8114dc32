/**
 * v1 Namespace (Kubernetes core/v1). Only its labels matter to Weft (NetworkPolicy
 * namespaceSelector); `spec.finalizers` is accepted for compatibility and ignored.
 */
import { dnsLabel } from '../manifest/formats.ts';
import { type Schema, obj, list, str } from '../manifest/schema.ts';
import type { KindDef } from './common.ts';

export interface NamespaceSpec {
  /** Accepted and ignored (Kubernetes object finalizers). */
  finalizers?: string[];
}

export const namespaceSpec: Schema<NamespaceSpec> = obj<NamespaceSpec>({ finalizers: list(str({ min: 1 })) });

export const namespaceKind: KindDef<NamespaceSpec> = {
  kind: 'Namespace',
  apiVersion: 'v1',
  apiVersions: ['v1'],
  namespaced: false,
  name: dnsLabel(),
  spec: namespaceSpec,
  specRequired: false,
};
