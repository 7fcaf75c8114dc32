/**
 * A set of TCP listeners kept equal to what the config wants: `reconcile` binds the new addresses,
 * closes the ones that went away (their open connections carry on), and leaves the rest untouched,
 * so a config change never drops a listener that is still wanted. Used for the capture listeners
 * (outbound) and the plaintext inbound listeners.
 */
import net from 'node:net';
import type { Logger } from '../../lib/index.ts';
import { errorMessage } from '../../lib/index.ts';

export interface ListenAddress {
  address: string;
  port: number;
}

export class ListenerSet {
  readonly #what: string;
  readonly #logger: Logger;
  readonly #onConnection: (socket: net.Socket, key: string) => void;
  readonly #servers = new Map<string, net.Server>();

  /** `what` names the listeners in errors ("capture listener"); `key` identifies each in the callback. */
  constructor(what: string, logger: Logger, onConnection: (socket: net.Socket, key: string) => void) {
    this.#what = what;
    this.#logger = logger;
    this.#onConnection = onConnection;
  }

  get size(): number {
    return this.#servers.size;
  }

  /** Make the bound set equal `wanted`. Rejects, naming the first failure, if a bind fails. */
  async reconcile(wanted: ReadonlyMap<string, ListenAddress>): Promise<void> {
    for (const [key, server] of this.#servers) {
      if (!wanted.has(key)) {
        server.close();
        this.#servers.delete(key);
      }
    }
    const binds: Promise<void>[] = [];
    for (const [key, at] of wanted) {
      if (this.#servers.has(key)) continue;
      const server = net.createServer({ noDelay: true }, (socket) => this.#onConnection(socket, key));
      this.#servers.set(key, server);
      binds.push(
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(at.port, at.address, () => {
            server.off('error', reject);
            server.on('error', (err) => this.#logger.error(`${this.#what} failed`, { key, error: err }));
            resolve();
          });
        }),
      );
    }
    const failed = (await Promise.allSettled(binds)).filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(`could not bind ${failed.length} ${this.#what}(s): ${errorMessage(failed[0]!.reason)}`);
    }
  }

  close(): void {
    for (const server of this.#servers.values()) server.close();
    this.#servers.clear();
  }
}
