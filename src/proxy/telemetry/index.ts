/** telemetry: metrics. */
export { ProxyMetrics } from './metrics.ts';
