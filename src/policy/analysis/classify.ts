/**
 * Finds the class a concrete request belongs to: the class whose every attribute part matches
 * exactly the same matcher texts as the request's value. Used by the differential tests (the class's
 * verdict must equal the engine's decision for the request) and by `weft policy explain`.
 */
import { compileString, matchString } from '../authz/match.ts';
import { normalizePath } from '../authz/path.ts';
import type { RequestClass, RequestClasses, WitnessRequest } from './analyser.ts';

function valueOf(attr: string, req: WitnessRequest): string | undefined {
  if (attr === 'method') return req.method;
  if (attr === 'path') {
    const n = normalizePath(req.path);
    return n.ok ? n.path : undefined;
  }
  if (attr === 'host') return req.host.toLowerCase();
  return req.headers[attr.slice(7)];
}

/** The class of `req`, or undefined when none matches (which would be a coverage bug). */
export function classOf(set: RequestClasses, req: WitnessRequest | undefined): RequestClass | undefined {
  if (req === undefined) return set.classes[0];
  return set.classes.find((c) => {
    for (const [attr, part] of c.parts) {
      const v = valueOf(attr, req);
      const lower = attr === 'host';
      for (const t of part.matches) if (!matchString(compileString(t, lower), v)) return false;
      for (const t of part.misses) if (matchString(compileString(t, lower), v)) return false;
    }
    return true;
  });
}

/**
 * Requests the engine rejects before any policy is read (a method that is not an upper-case token,
 * a path that cannot be normalised): they form one more class, always denied. Returns why, or ''.
 */
export function rejectedBeforeAuthorization(req: WitnessRequest): string {
  if (!/^[A-Z][A-Z0-9_-]*$/.test(req.method))
    return `method ${JSON.stringify(req.method)} is not an upper-case token`;
  const n = normalizePath(req.path);
  return n.ok ? '' : n.reason;
}
