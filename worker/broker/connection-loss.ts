// A delivery can be acked only on the channel it came on: once the broker connection drops,
// every delivery in hand is back on its queue already. rabbitmq-client subscribes a consumer
// again only after all of its handlers have settled (Consumer#_setup waits for them), so a
// handler still waiting on a stalled store kept its queue without a consumer for as long as the
// store stalled: up to a 30 s socket timeout plus the 30 s outage wait (chaos seeds 1595255773,
// 552581773: no consumer for 90 s after a RabbitMQ restart). A handler that stops waiting at
// the drop lets the consumer subscribe again at once; its write goes on (every write is
// idempotent) and the redelivered message finds it done, or does it again.

import type { Connection } from 'rabbitmq-client';

export const CONNECTION_LOST = Symbol('connection lost');

export class ConnectionLoss {
  readonly #waiters = new Set<() => void>();

  constructor(rabbit: Connection) {
    rabbit.on('error', () => {
      // Emitted on a drop (the connection is then reconnecting) and for some errors of a live
      // connection's channels: only a drop ends the deliveries in hand.
      if (rabbit.ready) return;
      for (const lost of this.#waiters) lost();
      this.#waiters.clear();
    });
  }

  /** `work`'s result, or CONNECTION_LOST as soon as the connection drops first (work goes on). */
  whileConnected<T>(work: Promise<T>): Promise<T | typeof CONNECTION_LOST> {
    return new Promise((resolve, reject) => {
      const lost = () => resolve(CONNECTION_LOST);
      this.#waiters.add(lost);
      work.then(resolve, reject).finally(() => this.#waiters.delete(lost));
    });
  }
}
