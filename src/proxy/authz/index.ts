/** authz: enforcement side of policy's engine. */
export { compileProxyAuthorizer } from './compile.ts';
