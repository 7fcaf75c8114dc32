/**
 * The table of bad inputs: every kind, every class of mistake, each asserting the exact location,
 * field path and message (or its distinctive part) a user sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests, formatDiagnostic } from '../index.ts';

const V = {
  svc: 'v1',
  ns: 'v1',
  node: 'v1',
  wl: 'weft.dev/v1alpha1',
  mc: 'weft.dev/v1alpha1',
  gw: 'gateway.networking.k8s.io/v1',
  dr: 'networking.istio.io/v1',
  sec: 'security.istio.io/v1',
  np: 'networking.k8s.io/v1',
  weft: 'weft.dev/v1alpha1',
};

/** apiVersion (line 1), kind (2), metadata (3), name (4), spec: (5), spec body from line 6 at column 3. */
function doc(apiVersion: string, kind: string, spec: string): string {
  const body = spec
    .trim()
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\nspec:\n${body}\n`;
}

const PR = `parentRefs: [{group: "", kind: Service, name: s}]`;

// [name, text, expected prefix "line:col: path: ", message substring]
const CASES: [string, string, string, string][] = [
  // --- envelope
  [
    'unknown kind with hint',
    'apiVersion: v1\nkind: Servce\nmetadata: {name: x}\n',
    '2:7: kind: ',
    'unknown kind "Servce"; did you mean "Service"?',
  ],
  [
    'kind case',
    'apiVersion: gateway.networking.k8s.io/v1\nkind: httproute\nmetadata: {name: x}\n',
    '2:7: kind: ',
    'did you mean "HTTPRoute"?',
  ],
  ['missing kind', 'apiVersion: v1\nmetadata: {name: x}\n', '1:1: kind: ', 'required field is missing'],
  [
    'missing apiVersion',
    'kind: Namespace\nmetadata: {name: x}\n',
    '1:1: apiVersion: ',
    'required field is missing',
  ],
  [
    'wrong apiVersion',
    'apiVersion: networking.istio.io/v2\nkind: DestinationRule\nmetadata: {name: x}\nspec: {host: a}\n',
    '1:13: apiVersion: ',
    '"networking.istio.io/v2" is not an apiVersion of DestinationRule',
  ],
  [
    'apiVersion typo',
    'apiVersion: gateway.networking.k8s.io/v1beta\nkind: HTTPRoute\nmetadata: {name: x}\nspec: {}\n',
    '1:13: apiVersion: ',
    'did you mean "gateway.networking.k8s.io/v1beta1"?',
  ],
  [
    'unknown top-level field',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\nspce: {}\n',
    '4:1: spce: ',
    'unknown field "spce"; did you mean "spec"?',
  ],
  ['missing metadata', 'apiVersion: v1\nkind: Namespace\n', '1:1: metadata: ', 'required field is missing'],
  [
    'missing name',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  labels: {a: b}\n',
    '4:3: metadata.name: ',
    'required field is missing',
  ],
  [
    'bad name',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Shop_1\n',
    '4:9: metadata.name: ',
    'must be a lowercase RFC 1123 label',
  ],
  [
    'service name must start with letter',
    doc(V.svc, 'Service', 'ports: [{port: 80}]').replace('name: x', 'name: 1svc'),
    '4:9: metadata.name: ',
    'RFC 1035 label',
  ],
  [
    'namespace on cluster-scoped',
    'apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n  namespace: a\n',
    '5:3: metadata.namespace: ',
    'Node is cluster-scoped: remove metadata.namespace',
  ],
  [
    'bad label key',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    -bad: x\n',
    '6:5: metadata.labels["-bad"]: ',
    'label key "-bad" is invalid',
  ],
  [
    'bad label value',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    app: "a b"\n',
    '6:10: metadata.labels.app: ',
    'label value "a b" is invalid',
  ],
  [
    'label value type',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    on: true\n',
    '6:9: metadata.labels.on: ',
    'expected a string, got true',
  ],
  [
    'bad creationTimestamp',
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  creationTimestamp: yesterday\n',
    '5:22: metadata.creationTimestamp: ',
    'not an RFC 3339 timestamp',
  ],
  ['not an object', '- 1\n- 2\n', '1:3: [0]: ', 'expected a resource object'],
  [
    'missing spec',
    'apiVersion: v1\nkind: Service\nmetadata: {name: x}\n',
    '1:1: spec: ',
    'required field is missing (a Service needs a spec)',
  ],
  // --- Service
  [
    'service no ports',
    doc(V.svc, 'Service', 'selector: {app: a}'),
    '6:3: spec.ports: ',
    'required field is missing',
  ],
  [
    'service port range',
    doc(V.svc, 'Service', 'ports:\n- port: 70000'),
    '7:11: spec.ports[0].port: ',
    '70000 is out of range (must be 1-65535)',
  ],
  [
    'service port type',
    doc(V.svc, 'Service', 'ports:\n- port: "80"'),
    '7:11: spec.ports[0].port: ',
    'expected an integer, got the string "80"',
  ],
  [
    'service unnamed ports',
    doc(V.svc, 'Service', 'ports:\n- port: 80\n- port: 81'),
    '7:5: spec.ports[0].name: ',
    'required when the Service has more than one port',
  ],
  [
    'service dup port',
    doc(V.svc, 'Service', 'ports:\n- {name: a, port: 80}\n- {name: b, port: 80}'),
    '8:5: spec.ports[1]: ',
    'duplicate port "80"',
  ],
  [
    'service appProtocol',
    doc(V.svc, 'Service', 'ports:\n- port: 80\n  appProtocol: mongo'),
    '8:18: spec.ports[0].appProtocol: ',
    '"mongo" is not a supported appProtocol',
  ],
  [
    'service UDP',
    doc(V.svc, 'Service', 'ports:\n- port: 53\n  protocol: UDP'),
    '8:15: spec.ports[0].protocol: ',
    'UDP is not supported yet',
  ],
  [
    'service type',
    doc(V.svc, 'Service', 'type: LoadBalancer\nports: [{port: 80}]'),
    '6:9: spec.type: ',
    'ClusterIP services only',
  ],
  [
    'service targetPort name',
    doc(V.svc, 'Service', 'ports:\n- port: 80\n  targetPort: Web_Port'),
    '8:17: spec.ports[0].targetPort: ',
    'a port name must be at most 15',
  ],
  [
    'service misspelt field',
    doc(V.svc, 'Service', 'selectr: {app: a}\nports: [{port: 80}]'),
    '6:3: spec.selectr: ',
    'did you mean "selector"?',
  ],
  // --- Node
  [
    'node bad address',
    'apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus:\n  addresses:\n  - type: InternalIP\n    address: 300.1.1.1\n',
    '7:14: status.addresses[0].address: ',
    '"300.1.1.1" is not an IPv4 or IPv6 address',
  ],
  [
    'node address type',
    'apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus:\n  addresses:\n  - type: InternalIp\n    address: 127.0.0.1\n',
    '6:11: status.addresses[0].type: ',
    '"InternalIp" is not one of InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS (did you mean "InternalIP"?)',
  ],
  [
    'node tunnel port',
    'apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n  annotations:\n    weft.dev/tunnel-port: "99999"\n',
    '6:27: metadata.annotations["weft.dev/tunnel-port"]: ',
    'is not a port number',
  ],
  [
    'namespace spec field',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\nspec:\n  finalizer: [x]\n',
    '5:3: spec.finalizer: ',
    'did you mean "finalizers"?',
  ],
  // --- Workload
  [
    'workload neither run nor builtin',
    doc(V.wl, 'Workload', 'replicas: 1'),
    '6:3: spec: ',
    'exactly one of run, builtin must be set',
  ],
  [
    'workload both',
    doc(V.wl, 'Workload', 'builtin: echo\nrun: {command: x}'),
    '7:3: spec.run: ',
    'only one of run, builtin may be set',
  ],
  [
    'workload builtin',
    doc(V.wl, 'Workload', 'builtin: httpbin'),
    '6:12: spec.builtin: ',
    '"httpbin" is not one of echo',
  ],
  [
    'workload replicas',
    doc(V.wl, 'Workload', 'builtin: echo\nreplicas: -1'),
    '7:13: spec.replicas: ',
    '-1 is out of range',
  ],
  [
    'workload run command',
    doc(V.wl, 'Workload', 'run: {args: [a]}'),
    '6:8: spec.run.command: ',
    'required field is missing',
  ],
  [
    'workload env name',
    doc(V.wl, 'Workload', 'run:\n  command: x\n  env:\n    1BAD: v'),
    '9:7: spec.run.env["1BAD"]: ',
    'environment variable names',
  ],
  [
    'workload args without builtin',
    doc(V.wl, 'Workload', 'run: {command: x}\nargs: [a]'),
    '7:3: spec.args: ',
    'spec.args is for the builtin',
  ],
  [
    'workload readiness both',
    doc(V.wl, 'Workload', 'builtin: echo\nreadiness:\n  httpGet: {port: 80}\n  tcpSocket: {port: 80}'),
    '9:5: spec.readiness.tcpSocket: ',
    'only one of httpGet, tcpSocket may be set',
  ],
  [
    'workload readiness port name',
    doc(V.wl, 'Workload', 'builtin: echo\nreadiness:\n  tcpSocket: {port: web}'),
    '8:23: spec.readiness.tcpSocket.port: ',
    'port name "web" is not in spec.ports',
  ],
  [
    'workload agent type',
    doc(V.wl, 'Workload', 'builtin: echo\nagent: "yes"'),
    '7:10: spec.agent: ',
    'expected true or false, got the string "yes"',
  ],
  [
    'workload serviceAccount',
    doc(V.wl, 'Workload', 'builtin: echo\nserviceAccount: My_SA'),
    '7:19: spec.serviceAccount: ',
    'RFC 1123 subdomain',
  ],
  // --- MeshConfig
  [
    'mesh defaultPolicy',
    doc(V.mc, 'MeshConfig', 'defaultPolicy: permit'),
    '6:18: spec.defaultPolicy: ',
    '"permit" is not one of deny, allow',
  ],
  [
    'mesh certTtl syntax',
    doc(V.mc, 'MeshConfig', 'certTtl: 1 hour'),
    '6:12: spec.certTtl: ',
    '"1 hour" is not a duration',
  ],
  [
    'mesh certTtl range',
    doc(V.mc, 'MeshConfig', 'certTtl: 1m'),
    '6:12: spec.certTtl: ',
    'certTtl must be between 10m and 720h',
  ],
  [
    'mesh sampling',
    doc(V.mc, 'MeshConfig', 'telemetry: {sampling: 101}'),
    '6:25: spec.telemetry.sampling: ',
    '101 is out of range',
  ],
  [
    'mesh trustDomain',
    doc(V.mc, 'MeshConfig', 'trustDomain: Example.COM'),
    '6:16: spec.trustDomain: ',
    'RFC 1123 subdomain',
  ],
  // --- HTTPRoute
  [
    'route path type',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - path: {type: Prefix, value: /x}`),
    '9:20: spec.rules[0].matches[0].path.type: ',
    '"Prefix" is not one of Exact, PathPrefix, RegularExpression',
  ],
  [
    'route path relative',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - path: {value: api}`),
    '9:21: spec.rules[0].matches[0].path.value: ',
    "must be an absolute path and start with '/'",
  ],
  [
    'route path //',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - path: {type: Exact, value: /a//b}`),
    '9:34: spec.rules[0].matches[0].path.value: ',
    "must not contain '//'",
  ],
  [
    'route path %2f',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - path: {value: /a%2fb}`),
    '9:21: spec.rules[0].matches[0].path.value: ',
    "must not contain '%2f' or '%2F'",
  ],
  [
    'route path regex',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - path: {type: RegularExpression, value: "/a(b"}`),
    '9:46: spec.rules[0].matches[0].path.value: ',
    'invalid regular expression "/a(b"',
  ],
  [
    'route regex lookahead',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- matches:\n  - headers: [{type: RegularExpression, name: a, value: "(?=x)"}]`,
    ),
    '9:59: spec.rules[0].matches[0].headers[0].value: ',
    'lookaround, which RE2 does not support',
  ],
  [
    'route header name',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - headers: [{name: "bad header", value: x}]`),
    '9:24: spec.rules[0].matches[0].headers[0].name: ',
    'must be an HTTP header name',
  ],
  [
    'route dup header match',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- matches:\n  - headers: [{name: A, value: x}, {name: a, value: y}]`,
    ),
    '9:38: spec.rules[0].matches[0].headers[1]: ',
    'duplicate header name "a"',
  ],
  [
    'route method',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- matches:\n  - method: get`),
    '9:15: spec.rules[0].matches[0].method: ',
    '"get" is not one of GET, HEAD',
  ],
  [
    'route parent gateway',
    doc(V.gw, 'HTTPRoute', 'parentRefs: [{name: gw}]'),
    '6:16: spec.parentRefs[0]: ',
    'Weft routes in mesh mode (GAMMA)',
  ],
  [
    'route parent kind',
    doc(V.gw, 'HTTPRoute', 'parentRefs: [{group: "", kind: Gateway, name: gw}]'),
    '6:34: spec.parentRefs[0].kind: ',
    'parentRefs must name a Service',
  ],
  [
    'route backend no port',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- backendRefs: [{name: s}]`),
    '8:19: spec.rules[0].backendRefs[0].port: ',
    'Must have port for Service reference',
  ],
  [
    'route backend weight',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- backendRefs: [{name: s, port: 80, weight: -1}]`),
    '8:47: spec.rules[0].backendRefs[0].weight: ',
    '-1 is out of range (must be 0-1000000)',
  ],
  [
    'route backend misspelt',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- backendRefs:\n  - name: s\n    port: 80\n    wieght: 2`),
    '11:7: spec.rules[0].backendRefs[0].wieght: ',
    'unknown field "wieght"; did you mean "weight"?',
  ],
  [
    'route filter missing config',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- filters: [{type: RequestHeaderModifier}]`),
    '8:15: spec.rules[0].filters[0].requestHeaderModifier: ',
    'required when type is RequestHeaderModifier',
  ],
  [
    'route filter wrong config',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters:\n  - type: URLRewrite\n    urlRewrite: {hostname: a}\n    requestRedirect: {}`,
    ),
    '11:7: spec.rules[0].filters[0].requestRedirect: ',
    'must not be set when type is URLRewrite',
  ],
  [
    'route filter repeated',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters:\n  - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [a]}}\n  - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [b]}}`,
    ),
    '10:14: spec.rules[0].filters[1].type: ',
    'RequestHeaderModifier filter cannot be repeated',
  ],
  [
    'route redirect with backends',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]\n  backendRefs: [{name: s, port: 80}]`,
    ),
    '8:15: spec.rules[0].filters[0]: ',
    'RequestRedirect filter must not be used together with backendRefs',
  ],
  [
    'route redirect status',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]`,
    ),
    '8:69: spec.rules[0].filters[0].requestRedirect.statusCode: ',
    '305 is not one of 301, 302, 303, 307, 308',
  ],
  [
    'route replacePrefixMatch needs PathPrefix',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- matches: [{path: {type: Exact, value: /a}}]\n  filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]`,
    ),
    '9:15: spec.rules[0].filters[0]: ',
    'exactly one PathPrefix match must be specified',
  ],
  [
    'route path modifier field',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath}}}]`,
    ),
    '8:53: spec.rules[0].filters[0].urlRewrite.path.replaceFullPath: ',
    'required when type is ReplaceFullPath',
  ],
  [
    'route mirror percent and fraction',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters:\n  - type: RequestMirror\n    requestMirror:\n      backendRef: {name: s, port: 80}\n      percent: 10\n      fraction: {numerator: 1}`,
    ),
    '13:9: spec.rules[0].filters[0].requestMirror.fraction: ',
    'only one of percent, fraction may be set',
  ],
  [
    'route mirror fraction',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- filters:\n  - type: RequestMirror\n    requestMirror:\n      backendRef: {name: s, port: 80}\n      fraction: {numerator: 5, denominator: 4}`,
    ),
    '12:31: spec.rules[0].filters[0].requestMirror.fraction.numerator: ',
    'must be less than or equal to denominator (4)',
  ],
  [
    'route timeout syntax',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- timeouts: {request: 1.5s}`),
    '8:25: spec.rules[0].timeouts.request: ',
    'is not a Gateway API duration (GEP-2257)',
  ],
  [
    'route timeout order',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- timeouts: {request: 1s, backendRequest: 2s}`),
    '8:45: spec.rules[0].timeouts.backendRequest: ',
    'backendRequest timeout cannot be longer than request timeout (1s)',
  ],
  [
    'route retry code',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- retry: {codes: [200]}`),
    '8:21: spec.rules[0].retry.codes[0]: ',
    '200 is out of range (must be 400-599)',
  ],
  [
    'route sessionPersistence',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- sessionPersistence: {sessionName: a}`),
    '8:5: spec.rules[0].sessionPersistence: ',
    'sessionPersistence is not supported yet',
  ],
  [
    'route hostname',
    doc(V.gw, 'HTTPRoute', `${PR}\nhostnames: ["10.0.0.1:80"]`),
    '7:15: spec.hostnames[0]: ',
    'must be a lowercase DNS name',
  ],
  [
    'route dup rule name',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- name: a\n- name: a`),
    '9:5: spec.rules[1]: ',
    'duplicate rule name "a"',
  ],
  [
    'route filter CORS',
    doc(V.gw, 'HTTPRoute', `${PR}\nrules:\n- filters: [{type: CORS}]`),
    '8:22: spec.rules[0].filters[0].type: ',
    'filter type CORS is not supported yet',
  ],
  [
    'route backend filter redirect',
    doc(
      V.gw,
      'HTTPRoute',
      `${PR}\nrules:\n- backendRefs: [{name: s, port: 80, filters: [{type: RequestRedirect}]}]`,
    ),
    '8:56: spec.rules[0].backendRefs[0].filters[0].type: ',
    "not allowed in a backendRef's filters",
  ],
  // --- GRPCRoute
  [
    'grpc method empty',
    doc(V.gw, 'GRPCRoute', `${PR}\nrules:\n- matches: [{method: {type: Exact}}]`),
    '8:24: spec.rules[0].matches[0].method: ',
    "One or both of 'service' or 'method' must be specified",
  ],
  [
    'grpc service name',
    doc(V.gw, 'GRPCRoute', `${PR}\nrules:\n- matches: [{method: {service: "foo/bar"}}]`),
    '8:34: spec.rules[0].matches[0].method.service: ',
    'not a valid fully qualified gRPC service name',
  ],
  [
    'grpc method regex',
    doc(V.gw, 'GRPCRoute', `${PR}\nrules:\n- matches: [{method: {type: RegularExpression, method: "[a"}}]`),
    '8:58: spec.rules[0].matches[0].method.method: ',
    'invalid regular expression "[a"',
  ],
  [
    'grpc filter type',
    doc(V.gw, 'GRPCRoute', `${PR}\nrules:\n- filters: [{type: URLRewrite}]`),
    '8:22: spec.rules[0].filters[0].type: ',
    '"URLRewrite" is not one of RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, ExtensionRef',
  ],
  [
    'grpc no timeouts',
    doc(V.gw, 'GRPCRoute', `${PR}\nrules:\n- timeouts: {request: 1s}`),
    '8:5: spec.rules[0].timeouts: ',
    'unknown field "timeouts"',
  ],
  // --- DestinationRule
  [
    'dr missing host',
    doc(V.dr, 'DestinationRule', 'subsets: []'),
    '6:3: spec.host: ',
    'required field is missing',
  ],
  [
    'dr lb simple',
    doc(V.dr, 'DestinationRule', 'host: a\ntrafficPolicy:\n  loadBalancer: {simple: ROUND_ROBBIN}'),
    '8:28: spec.trafficPolicy.loadBalancer.simple: ',
    'did you mean "ROUND_ROBIN"?',
  ],
  [
    'dr maglev prime',
    doc(
      V.dr,
      'DestinationRule',
      'host: a\ntrafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      maglev: {tableSize: 65536}',
    ),
    '11:29: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: ',
    '65536 is not prime',
  ],
  [
    'dr hash key missing',
    doc(
      V.dr,
      'DestinationRule',
      'host: a\ntrafficPolicy:\n  loadBalancer:\n    consistentHash: {maglev: {tableSize: 65537}}',
    ),
    '9:23: spec.trafficPolicy.loadBalancer.consistentHash: ',
    'exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName must be set',
  ],
  [
    'dr simple and hash',
    doc(
      V.dr,
      'DestinationRule',
      'host: a\ntrafficPolicy:\n  loadBalancer:\n    simple: RANDOM\n    consistentHash: {useSourceIp: true}',
    ),
    '10:7: spec.trafficPolicy.loadBalancer.consistentHash: ',
    'only one of simple, consistentHash may be set',
  ],
  [
    'dr duration',
    doc(V.dr, 'DestinationRule', 'host: a\ntrafficPolicy:\n  outlierDetection: {interval: 10}'),
    '8:34: spec.trafficPolicy.outlierDetection.interval: ',
    'expected a string, got the number 10',
  ],
  [
    'dr duration syntax',
    doc(V.dr, 'DestinationRule', 'host: a\ntrafficPolicy:\n  connectionPool: {tcp: {connectTimeout: 10 s}}'),
    '8:44: spec.trafficPolicy.connectionPool.tcp.connectTimeout: ',
    '"10 s" is not a duration',
  ],
  [
    'dr ejection percent',
    doc(V.dr, 'DestinationRule', 'host: a\ntrafficPolicy:\n  outlierDetection: {maxEjectionPercent: 150}'),
    '8:44: spec.trafficPolicy.outlierDetection.maxEjectionPercent: ',
    '150 is out of range (must be 0-100)',
  ],
  [
    'dr h2UpgradePolicy',
    doc(V.dr, 'DestinationRule', 'host: a\ntrafficPolicy:\n  connectionPool: {http: {h2UpgradePolicy: YES}}'),
    '8:46: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: ',
    '"YES" is not one of DEFAULT, DO_NOT_UPGRADE, UPGRADE',
  ],
  [
    'dr subset name',
    doc(V.dr, 'DestinationRule', 'host: a\nsubsets:\n- labels: {v: "1"}'),
    '8:5: spec.subsets[0].name: ',
    'required field is missing',
  ],
  [
    'dr tls mutual',
    doc(V.dr, 'DestinationRule', 'host: a\ntrafficPolicy:\n  tls: {mode: MUTUAL}'),
    '8:17: spec.trafficPolicy.tls.mode: ',
    'tls mode MUTUAL is not supported yet',
  ],
  [
    'dr locality distribute',
    doc(
      V.dr,
      'DestinationRule',
      'host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute:\n      - from: a/*\n        to: {"b/*": 60}',
    ),
    '12:15: spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: ',
    'weights must sum to 100 (got 60)',
  ],
  [
    'dr host',
    doc(V.dr, 'DestinationRule', 'host: Reviews_svc'),
    '6:9: spec.host: ',
    'host must be a service name',
  ],
  // --- AuthorizationPolicy
  [
    'ap CUSTOM',
    doc(V.sec, 'AuthorizationPolicy', 'action: CUSTOM\nprovider: {name: ext}'),
    '6:11: spec.action: ',
    'action CUSTOM (external authorization) is not supported yet',
  ],
  [
    'ap action',
    doc(V.sec, 'AuthorizationPolicy', 'action: allow'),
    '6:11: spec.action: ',
    '"allow" is not one of ALLOW, DENY, AUDIT (did you mean "ALLOW"?)',
  ],
  [
    'ap requestPrincipals',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- from:\n  - source: {requestPrincipals: ["*"]}'),
    '8:16: spec.rules[0].from[0].source.requestPrincipals: ',
    'needs JWT authentication, which Weft does not support yet',
  ],
  [
    'ap request.auth',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- when:\n  - key: request.auth.claims[iss]\n    values: [x]'),
    '8:12: spec.rules[0].when[0].key: ',
    'needs JWT authentication',
  ],
  [
    'ap unknown key',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- when:\n  - key: source.ipaddr\n    values: [x]'),
    '8:12: spec.rules[0].when[0].key: ',
    'unknown condition key "source.ipaddr"',
  ],
  [
    'ap condition ip',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- when:\n  - key: source.ip\n    values: [10.0.0.0/33]'),
    '9:16: spec.rules[0].when[0].values[0]: ',
    '"10.0.0.0/33" is not an IP address or CIDR',
  ],
  [
    'ap condition no values',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- when:\n  - key: source.namespace'),
    '8:7: spec.rules[0].when[0]: ',
    'at least one of values or notValues must be set',
  ],
  [
    'ap wildcard middle',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- to:\n  - operation: {paths: ["/a*b"]}'),
    '8:27: spec.rules[0].to[0].operation.paths[0]: ',
    "'*' is only allowed as the whole value, a prefix",
  ],
  [
    'ap port string',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- to:\n  - operation: {ports: ["http"]}'),
    '8:27: spec.rules[0].to[0].operation.ports[0]: ',
    '"http" is not a port number',
  ],
  [
    'ap empty source',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- from:\n  - source: {}'),
    '8:15: spec.rules[0].from[0].source: ',
    'source must set at least one field',
  ],
  [
    'ap selector and targetRef',
    doc(V.sec, 'AuthorizationPolicy', 'selector: {matchLabels: {a: b}}\ntargetRef: {kind: Service, name: s}'),
    '7:3: spec.targetRef: ',
    'only one of selector, targetRef may be set',
  ],
  [
    'ap ipBlocks',
    doc(V.sec, 'AuthorizationPolicy', 'rules:\n- from:\n  - source: {ipBlocks: [not-an-ip]}'),
    '8:27: spec.rules[0].from[0].source.ipBlocks[0]: ',
    '"not-an-ip" is not an IP address or CIDR',
  ],
  [
    'ap selector field',
    doc(V.sec, 'AuthorizationPolicy', 'selector: {matchLabel: {a: b}}'),
    '6:14: spec.selector.matchLabel: ',
    'did you mean "matchLabels"?',
  ],
  // --- PeerAuthentication
  [
    'pa mode',
    doc(V.sec, 'PeerAuthentication', 'mtls: {mode: STRICTER}'),
    '6:16: spec.mtls.mode: ',
    '"STRICTER" is not one of UNSET, DISABLE, PERMISSIVE, STRICT (did you mean "STRICT"?)',
  ],
  [
    'pa port key',
    doc(
      V.sec,
      'PeerAuthentication',
      'selector: {matchLabels: {a: b}}\nportLevelMtls:\n  http: {mode: DISABLE}',
    ),
    '8:5: spec.portLevelMtls.http: ',
    'port "http" is not a port number',
  ],
  [
    'pa portLevel needs selector',
    doc(V.sec, 'PeerAuthentication', 'portLevelMtls:\n  "80": {mode: DISABLE}'),
    '6:3: spec.portLevelMtls: ',
    'portLevelMtls requires a selector',
  ],
  // --- NetworkPolicy
  [
    'np cidr',
    doc(V.np, 'NetworkPolicy', 'ingress:\n- from:\n  - ipBlock: {cidr: 10.0.0.0}'),
    '8:23: spec.ingress[0].from[0].ipBlock.cidr: ',
    '"10.0.0.0" is not a CIDR',
  ],
  [
    'np except outside',
    doc(V.np, 'NetworkPolicy', 'ingress:\n- from:\n  - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}'),
    '8:45: spec.ingress[0].from[0].ipBlock.except[0]: ',
    'must be a strict subset of cidr 10.0.0.0/16',
  ],
  [
    'np ipBlock with selector',
    doc(V.np, 'NetworkPolicy', 'ingress:\n- from:\n  - ipBlock: {cidr: 10.0.0.0/8}\n    podSelector: {}'),
    '8:7: spec.ingress[0].from[0].ipBlock: ',
    'ipBlock may not be combined',
  ],
  [
    'np empty peer',
    doc(V.np, 'NetworkPolicy', 'ingress:\n- from:\n  - {}'),
    '8:7: spec.ingress[0].from[0]: ',
    'must set at least one of podSelector, namespaceSelector, ipBlock',
  ],
  [
    'np protocol',
    doc(V.np, 'NetworkPolicy', 'ingress:\n- ports:\n  - {protocol: ICMP, port: 80}'),
    '8:18: spec.ingress[0].ports[0].protocol: ',
    '"ICMP" is not one of TCP, UDP, SCTP',
  ],
  [
    'np endPort named',
    doc(V.np, 'NetworkPolicy', 'egress:\n- ports:\n  - {port: http, endPort: 90}'),
    '8:20: spec.egress[0].ports[0].endPort: ',
    'may only be set when port is a number',
  ],
  [
    'np endPort order',
    doc(V.np, 'NetworkPolicy', 'egress:\n- ports:\n  - {port: 90, endPort: 80}'),
    '8:27: spec.egress[0].ports[0].endPort: ',
    'must be greater than or equal to port (90)',
  ],
  [
    'np operator',
    doc(
      V.np,
      'NetworkPolicy',
      'podSelector:\n  matchExpressions:\n  - {key: a, operator: Equals, values: [b]}',
    ),
    '8:26: spec.podSelector.matchExpressions[0].operator: ',
    '"Equals" is not one of In, NotIn, Exists, DoesNotExist',
  ],
  [
    'np In without values',
    doc(V.np, 'NetworkPolicy', 'podSelector:\n  matchExpressions:\n  - {key: a, operator: In}'),
    '8:7: spec.podSelector.matchExpressions[0].values: ',
    'must be non-empty when operator is In',
  ],
  [
    'np policyTypes',
    doc(V.np, 'NetworkPolicy', 'policyTypes: [Ingres]'),
    '6:17: spec.policyTypes[0]: ',
    'did you mean "Ingress"?',
  ],
  // --- FaultInjection
  [
    'fi empty',
    doc(V.weft, 'FaultInjection', '{}'),
    '6:3: spec: ',
    'at least one of delay and abort must be set',
  ],
  [
    'fi both statuses',
    doc(V.weft, 'FaultInjection', 'abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}'),
    '6:28: spec.abort.grpcStatus: ',
    'only one of httpStatus, grpcStatus may be set',
  ],
  [
    'fi percentage range',
    doc(V.weft, 'FaultInjection', 'delay: {fixedDelay: 1s, percentage: 101}'),
    '6:39: spec.delay.percentage: ',
    '101 is out of range',
  ],
  [
    'fi grpc status name',
    doc(V.weft, 'FaultInjection', 'abort: {grpcStatus: UNAVAILBLE}'),
    '6:23: spec.abort.grpcStatus: ',
    'did you mean "UNAVAILABLE"?',
  ],
  [
    'fi delay duration',
    doc(V.weft, 'FaultInjection', 'delay: {fixedDelay: 5}'),
    '6:23: spec.delay.fixedDelay: ',
    'expected a string',
  ],
  // --- RateLimitPolicy
  [
    'rl missing rules',
    doc(V.weft, 'RateLimitPolicy', 'targetRef: {kind: Service, name: s}'),
    '6:3: spec.rules: ',
    'required field is missing',
  ],
  [
    'rl target kind',
    doc(
      V.weft,
      'RateLimitPolicy',
      'targetRef: {kind: Pod, name: s}\nrules: [{name: a, limit: {requests: 1, unit: second}}]',
    ),
    '6:21: spec.targetRef.kind: ',
    'a RateLimitPolicy targets a Service',
  ],
  [
    'rl header without name',
    doc(
      V.weft,
      'RateLimitPolicy',
      'targetRef: {kind: Service, name: s}\nrules:\n- name: a\n  descriptors: [{key: Header}]\n  limit: {requests: 1, unit: second}',
    ),
    '9:19: spec.rules[0].descriptors[0].header: ',
    'required when key is Header',
  ],
  [
    'rl unit',
    doc(
      V.weft,
      'RateLimitPolicy',
      'targetRef: {kind: Service, name: s}\nrules:\n- name: a\n  limit: {requests: 1, unit: minutes}',
    ),
    '9:32: spec.rules[0].limit.unit: ',
    'did you mean "minute"?',
  ],
  [
    'rl failureMode',
    doc(
      V.weft,
      'RateLimitPolicy',
      'targetRef: {kind: Service, name: s}\nfailureMode: deny\nrules: [{name: a, limit: {requests: 1, unit: second}}]',
    ),
    '7:16: spec.failureMode: ',
    'is not one of open, closed',
  ],
  [
    'rl zero requests',
    doc(
      V.weft,
      'RateLimitPolicy',
      'targetRef: {kind: Service, name: s}\nrules: [{name: a, limit: {requests: 0, unit: second}}]',
    ),
    '7:39: spec.rules[0].limit.requests: ',
    '0 is out of range',
  ],
  // --- Invariant
  [
    'invariant without a property',
    doc(V.weft, 'Invariant', 'description: nothing'),
    '6:3: spec: ',
    'one of deny, onlyFrom or requireMtls is required',
  ],
  [
    'invariant with two properties',
    doc(V.weft, 'Invariant', 'requireMtls: STRICT\nonlyFrom: {namespaces: [a]}'),
    '6:3: spec: ',
    'only one of deny, onlyFrom or requireMtls may be set',
  ],
  [
    'invariant deny with top-level to',
    doc(V.weft, 'Invariant', 'deny: {from: {namespaces: [a]}}\nto: {namespaces: [b]}'),
    '7:3: spec.to: ',
    'with deny, put to and operation inside deny',
  ],
  [
    'invariant requireMtls mode',
    doc(V.weft, 'Invariant', 'requireMtls: PERMISSIVE'),
    '6:16: spec.requireMtls: ',
    'PERMISSIVE',
  ],
  [
    'invariant port out of range',
    doc(V.weft, 'Invariant', 'deny: {to: {ports: [70000]}}'),
    '6:23: spec.deny.to.ports[0]: ',
    '65535',
  ],
  [
    'invariant unknown selector field',
    doc(V.weft, 'Invariant', 'onlyFrom: {namespace: [a]}'),
    '6:14: spec.onlyFrom.namespace: ',
    'unknown field "namespace"',
  ],
  // --- syntax
  ['yaml syntax', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [a\n', '5:1: ', 'YAML syntax'],
  [
    'yaml duplicate key',
    'apiVersion: v1\nkind: Namespace\nkind: Service\nmetadata: {name: a}\n',
    '3:1: ',
    'YAML syntax: Map keys must be unique',
  ],
];

void test(`table of ${CASES.length} bad inputs: exact location, path and message`, () => {
  assert.ok(CASES.length >= 70);
  const failures: string[] = [];
  for (const [name, text, where, message] of CASES) {
    const { diagnostics, resources } = parseManifests([{ file: 'm.yaml', text }]);
    const lines = diagnostics.map(formatDiagnostic);
    const hit = lines.find((l) => l.startsWith(`m.yaml:${where}`) && l.includes(message));
    if (!hit || resources.length !== 0)
      failures.push(
        `${name}: want m.yaml:${where}…${message}\n   got ${lines.join('\n       ') || '(none)'}`,
      );
  }
  assert.equal(failures.length, 0, `\n${failures.join('\n')}`);
});

void test('every kind has at least one bad input', () => {
  const kinds = new Set(CASES.map(([, text]) => /kind: (\w+)/.exec(text)?.[1]));
  for (const k of [
    'Service',
    'Namespace',
    'Node',
    'Workload',
    'MeshConfig',
    'HTTPRoute',
    'GRPCRoute',
    'DestinationRule',
    'AuthorizationPolicy',
    'PeerAuthentication',
    'NetworkPolicy',
    'FaultInjection',
    'RateLimitPolicy',
    'Invariant',
  ])
    assert.ok(kinds.has(k), k);
});
