/**
 * The validator the control plane runs: the api layer's per-object parser and its cross-resource
 * checks, behind the server's `ResourceValidator` seam (the same checks `weft validate` runs offline).
 */
import { checkResources, parseResourceObject } from '../../api/index.ts';
import type { ResourceValidator } from './control-server.ts';

export const apiResourceValidator: ResourceValidator = {
  parseObject: (raw) => parseResourceObject(raw),
  checkAll: (resources) => checkResources(resources),
};
