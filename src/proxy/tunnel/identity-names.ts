/**
 * How a SPIFFE ID travels in TLS SNI. The tunnel listener of a node serves every instance on it, so
 * the client names the identity it expects with SNI and the server picks that instance's SVID. SNI is
 * a DNS name, so `spiffe://<td>/ns/<ns>/sa/<sa>` becomes `<sa>.<ns>.sa.weft` (agents: `.agent.weft`).
 * The name is only a selector: the client still verifies the certificate's URI SAN.
 */
const SPIFFE_RE = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/(sa|agent)\/([^/]+)$/;

export function sniForSpiffeId(spiffeId: string): string {
  const m = SPIFFE_RE.exec(spiffeId);
  if (!m) throw new Error(`not a workload SPIFFE ID: ${spiffeId}`);
  return `${m[4]}.${m[2]}.${m[3]}.weft`;
}

export function spiffeIdForSni(sni: string, trustDomain: string): string | undefined {
  const parts = sni.split('.');
  if (parts.length !== 4 || parts[3] !== 'weft' || (parts[2] !== 'sa' && parts[2] !== 'agent'))
    return undefined;
  return `spiffe://${trustDomain}/ns/${parts[1]}/${parts[2]}/${parts[0]}`;
}

/** The URI SAN of a peer certificate as Node reports it (`subjectaltname: "URI:spiffe://..."`). */
export function spiffeIdOfCert(cert: { subjectaltname?: string } | undefined): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  const uris = san
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  return uris.length === 1 ? uris[0] : undefined;
}
