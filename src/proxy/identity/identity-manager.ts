/**
 * Keeps the workload SVIDs of this node's instances valid. For each SPIFFE ID in use it makes a
 * fresh P-256 key and CSR locally (the key never leaves the proxy), asks the control plane to sign
 * it, and renews at half life: renewal starts when half of the remaining lifetime at issue has
 * passed, and on failure retries with exponential backoff and full jitter while the current
 * certificate keeps serving. Each renewal uses a new key. Established TLS connections keep the
 * certificate they started with; a change event tells listeners to use the new one for new
 * connections (docs/architecture.md, "Identity and attestation").
 *
 * Several instances can share one identity (replicas of a workload): `ensure` and `release` are
 * reference-counted, and the identity is dropped when its last user releases it.
 */
import { Backoff, Watch, WeftError, errorMessage } from '../../lib/index.ts';
import type { Clock, Logger, Timer, Unsubscribe } from '../../lib/index.ts';
import { generateKeyAndCsr } from './keygen.ts';
import type { KeyAndCsr } from './keygen.ts';

/** What signs workload CSRs: the control-plane session, or a fake in tests. */
export interface WorkloadSigner {
  signWorkload(
    spiffeId: string,
    csrPem: string,
  ): Promise<{ certificatePem: string; chainPem: string; /** ms since epoch */ notAfter: number }>;
}

/** A usable workload identity: key and certificate as PEM, ready for `tls.createSecureContext`. */
export interface Svid {
  spiffeId: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  certPem: string;
  /** Leaf followed by intermediates. */
  chainPem: string;
  /** ms since epoch. */
  notAfter: number;
}

export interface IdentityManagerOptions {
  signer: WorkloadSigner;
  clock: Clock;
  logger: Logger;
  /** Uniform random in [0,1) for retry jitter (default Math.random). */
  random?: () => number;
  /** Retry backoff after a failed issue (defaults: 500 ms first ceiling, 60 s cap). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Key + CSR maker (default: WebCrypto P-256). */
  keygen?: (spiffeId: string) => Promise<KeyAndCsr>;
}

interface Entry {
  spiffeId: string;
  refs: number;
  svid: Watch<Svid | undefined>;
  timer: Timer | undefined;
  backoff: Backoff;
  /** Aborted on release/close, so waiters in ensure() never hang. */
  abort: AbortController;
  issuing: boolean;
}

export class IdentityManager {
  readonly #opts: IdentityManagerOptions;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(svid: Svid) => void>();
  #closed = false;

  constructor(options: IdentityManagerOptions) {
    this.#opts = options;
    this.#log = options.logger.child({ component: 'identity' });
  }

  /**
   * Start keeping `spiffeId` valid (or add a user of it) and resolve with its SVID once one is
   * issued. Rejects with WEFT_IDENTITY_RELEASED if it is released or the manager closed first.
   */
  ensure(spiffeId: string): Promise<Svid> {
    if (this.#closed) return Promise.reject(released(spiffeId));
    let entry = this.#entries.get(spiffeId);
    if (!entry) {
      entry = {
        spiffeId,
        refs: 0,
        svid: new Watch<Svid | undefined>(undefined),
        timer: undefined,
        backoff: new Backoff({
          baseMs: this.#opts.backoff?.baseMs ?? 500,
          maxMs: this.#opts.backoff?.maxMs ?? 60_000,
          random: this.#opts.random ?? Math.random,
          clock: this.#opts.clock,
        }),
        abort: new AbortController(),
        issuing: false,
      };
      this.#entries.set(spiffeId, entry);
      void this.#issue(entry);
    }
    entry.refs++;
    return entry.svid
      .until((v) => v !== undefined, entry.abort.signal)
      .then(
        (v) => v as Svid,
        () => Promise.reject(released(spiffeId)),
      );
  }

  /** The current SVID of `spiffeId`, if one has been issued and it is still ensured. */
  current(spiffeId: string): Svid | undefined {
    return this.#entries.get(spiffeId)?.svid.get();
  }

  /** SPIFFE IDs currently kept. */
  identities(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Called with each new SVID (first issue and every renewal). */
  onChange(listener: (svid: Svid) => void): Unsubscribe {
    const entry = (s: Svid) => listener(s);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** One user of `spiffeId` is gone; the last one stops its renewal and forgets it. */
  release(spiffeId: string): void {
    const entry = this.#entries.get(spiffeId);
    if (!entry) return;
    entry.refs--;
    if (entry.refs > 0) return;
    this.#drop(entry);
  }

  /** Stop every renewal. */
  close(): void {
    this.#closed = true;
    for (const entry of [...this.#entries.values()]) this.#drop(entry);
  }

  #drop(entry: Entry): void {
    this.#entries.delete(entry.spiffeId);
    entry.timer?.cancel();
    entry.timer = undefined;
    entry.abort.abort();
    this.#log.debug('identity released', { spiffeId: entry.spiffeId });
  }

  #live(entry: Entry): boolean {
    return this.#entries.get(entry.spiffeId) === entry;
  }

  async #issue(entry: Entry): Promise<void> {
    if (!this.#live(entry) || entry.issuing) return;
    entry.issuing = true;
    entry.timer = undefined;
    const clock = this.#opts.clock;
    try {
      const { keyPem, csrPem } = await (
        this.#opts.keygen ?? ((id: string) => generateKeyAndCsr({ spiffeId: id }))
      )(entry.spiffeId);
      const signed = await this.#opts.signer.signWorkload(entry.spiffeId, csrPem);
      if (!this.#live(entry)) return;
      const now = clock.now();
      if (!Number.isFinite(signed.notAfter) || signed.notAfter <= now) {
        throw new WeftError(
          'WEFT_IDENTITY_EXPIRED_ON_ARRIVAL',
          `the certificate for ${entry.spiffeId} is already expired`,
        );
      }
      const svid: Svid = {
        spiffeId: entry.spiffeId,
        keyPem,
        certPem: signed.certificatePem,
        chainPem: signed.chainPem,
        notAfter: signed.notAfter,
      };
      entry.backoff.reset();
      const renewIn = Math.floor((signed.notAfter - now) / 2);
      entry.timer = clock.setTimeout(() => void this.#issue(entry), renewIn);
      this.#log.info('workload certificate issued', {
        spiffeId: entry.spiffeId,
        notAfter: new Date(signed.notAfter).toISOString(),
        renewInMs: renewIn,
      });
      entry.svid.set(svid);
      for (const listener of [...this.#listeners]) {
        try {
          listener(svid);
        } catch (err) {
          this.#log.error('identity change listener failed', { err: errorMessage(err) });
        }
      }
    } catch (err) {
      if (!this.#live(entry)) return;
      const old = entry.svid.get();
      const delay = entry.backoff.next();
      this.#log.warn('workload certificate not issued; retrying', {
        spiffeId: entry.spiffeId,
        err: errorMessage(err),
        code: (err as { code?: unknown }).code,
        retryInMs: delay,
        currentValidUntil: old ? new Date(old.notAfter).toISOString() : undefined,
      });
      entry.timer = clock.setTimeout(() => void this.#issue(entry), delay);
    } finally {
      entry.issuing = false;
    }
  }
}

function released(spiffeId: string): WeftError {
  return new WeftError(
    'WEFT_IDENTITY_RELEASED',
    `identity ${spiffeId} was released before a certificate was issued`,
  );
}
