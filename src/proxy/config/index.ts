/** config: pushed snapshot → runtime tables (the one conversion edge). */
export { compileConfig } from './runtime-config.ts';
export type { RuntimeConfig, InboundPort } from './runtime-config.ts';
