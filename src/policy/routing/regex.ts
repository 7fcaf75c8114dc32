/**
 * Regular expressions in routes (path, header, query and gRPC method matches), compiled once.
 *
 * The Gateway API leaves the dialect of `RegularExpression` matches implementation-specific
 * (HTTPPathMatch, HTTPHeaderMatch, HTTPQueryParamMatch, GRPCMethodMatch). Weft accepts the RE2
 * syntax Envoy and Istio users write, compiled to a JavaScript RegExp:
 *
 * - a match is a FULL match of the value (as Envoy's `safe_regex`), so `v[0-9]` does not match `v10`;
 * - a leading `(?i)` / `(?s)` / `(?m)` flag group becomes the RegExp flag; `(?P<name>` becomes `(?<name>`;
 *   `\A` and `\z` become `^` and `$`;
 * - features RE2 lacks (backreferences, lookahead, lookbehind) are rejected, so a pattern that works
 *   here also works in Envoy/Istio.
 *
 * Limitation: JavaScript's engine backtracks (RE2 is linear time). Patterns come from the operator,
 * not the request, and the proxy bounds header and path length; pathological patterns such as
 * `(a+)+$` are still slow on adversarial input, and `weft policy lint` is the place to flag them.
 */
import { WeftError } from '../../lib/index.ts';

/** Compile an RE2-style pattern to an anchored RegExp. Throws WEFT_ROUTE_REGEX_INVALID. */
export function compileRe2(pattern: string, where = 'regular expression'): RegExp {
  let src = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    const f = lead[1] ?? '';
    if (f.includes('U')) throw invalid(pattern, where, 'the ungreedy flag (?U) is not supported');
    for (const c of f) if (!flags.includes(c)) flags += c;
    src = src.slice(lead[0].length);
  }
  const unsupported = firstUnsupported(src);
  if (unsupported !== undefined) throw invalid(pattern, where, unsupported);
  src = src.replaceAll('(?P<', '(?<').replaceAll('\\A', '^').replaceAll('\\z', '$');
  try {
    return new RegExp(`^(?:${src})$`, flags);
  } catch (err) {
    throw invalid(pattern, where, (err as Error).message);
  }
}

/** The first RE2-incompatible construct in `src`, described, or undefined. */
function firstUnsupported(src: string): string | undefined {
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      if (n !== undefined && n >= '1' && n <= '9')
        return `backreference \\${n} is not supported (RE2 syntax)`;
      if (n === 'k' && src[i + 2] === '<')
        return 'named backreference \\k<...> is not supported (RE2 syntax)';
      i++;
      continue;
    }
    if (c === '(' && src[i + 1] === '?') {
      const a = src[i + 2];
      const b = src[i + 3];
      if (a === '=' || a === '!') return 'lookahead (?= / (?! is not supported (RE2 syntax)';
      if (a === '<' && (b === '=' || b === '!'))
        return 'lookbehind (?<= / (?<! is not supported (RE2 syntax)';
    }
  }
  return undefined;
}

function invalid(pattern: string, where: string, why: string): WeftError {
  return new WeftError(
    'WEFT_ROUTE_REGEX_INVALID',
    `${where} ${JSON.stringify(pattern)} is not a valid RE2-style regular expression: ${why}; ` +
      'write RE2 syntax (full match, no backreferences or lookaround)',
    { detail: { pattern } },
  );
}
