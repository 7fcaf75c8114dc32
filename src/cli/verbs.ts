/**
 * The table of verbs. Each verb lives in its own file under src/cli (or src/bin for the long-running
 * processes, which assemble layers below cli) and is loaded on demand so `weft validate` does not pay
 * for the proxy's imports.
 */
import type { Verb } from './io.ts';

export const CLI_VERBS: Record<string, { summary: string; load: () => Promise<Verb> }> = {
  validate: {
    summary: 'check manifests offline',
    load: async () => (await import('./validate.ts')).validate,
  },
  apply: {
    summary: 'apply manifests to the control plane',
    load: async () => (await import('./apply.ts')).apply,
  },
  get: { summary: 'show resources', load: async () => (await import('./get.ts')).get },
  delete: { summary: 'delete resources', load: async () => (await import('./delete.ts')).del },
  history: { summary: 'list revisions', load: async () => (await import('./history.ts')).history },
  rollback: {
    summary: 'restore an earlier revision',
    load: async () => (await import('./rollback.ts')).rollback,
  },
  status: {
    summary: 'proxy connection and config status',
    load: async () => (await import('./status.ts')).status,
  },
  request: {
    summary: 'send a request as a workload through the mesh',
    load: async () => (await import('./request.ts')).request,
  },
  policy: {
    summary: 'explain what policies allow (explain)',
    load: async () => (await import('./policy.ts')).policy,
  },
  echo: { summary: 'run the built-in echo workload', load: async () => (await import('./echo.ts')).echo },
};
