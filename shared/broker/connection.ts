// One RabbitMQ connection object per process (rabbitmq-client reconnects by itself). With
// RABBITMQ_HOSTS it tries the broker nodes in turn, so losing one node of a cluster means a
// reconnect to a live one; credentials, vhost and TLS come from RABBITMQ_URL.

import { EventEmitter } from 'node:events';
import {
  AMQPError,
  Connection,
  type Envelope,
  type MessageBody,
  type Publisher,
  type PublisherProps,
} from 'rabbitmq-client';
import type { CommonConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

export type BrokerAddress = Pick<CommonConfig, 'rabbitmq_url' | 'rabbitmq_hosts'>;

/** The error rabbitmq-client rejects a publish with when the broker answered basic.nack. */
function isNack(error: unknown): boolean {
  return error instanceof AMQPError && error.code === 'NACK';
}

/**
 * Publishers that move to a new channel after a nack. RabbitMQ 3.10 can nack every publish of a
 * channel to a quorum queue for as long as the channel lives: the channel's queue client, made at
 * its first publish, asks the node of the leader the queue record named then, and while that node
 * is down it rejects the publish without ever picking another server (rabbit_fifo_client:enqueue,
 * `{badrpc, nodedown}`). After a cluster node is lost, a channel that first published before the
 * new leader was recorded is stuck so, and rabbitmq-client keeps using a channel while it is open.
 */
class BrokerConnection extends Connection {
  override createPublisher(props: PublisherProps = {}): Publisher {
    const attempts_max = props.maxAttempts ?? 1;
    const emitter = new EventEmitter();
    // rabbitmq-client 5.0.8 types `onReturn` but never calls it: a publisher only emits the event.
    if (props.onReturn) emitter.on('basic.return', props.onReturn);
    const open = (): Publisher => {
      // Each attempt is ours: a retry after a nack must not go out on the nacked channel again.
      const inner = super.createPublisher({ ...props, maxAttempts: 1 });
      inner.on('basic.return', (message) => emitter.emit('basic.return', message));
      return inner;
    };
    let current = open();
    let closed = false;
    const send = async (envelope: string | Envelope, body: MessageBody): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const publisher = current;
        try {
          return await publisher.send(envelope, body);
        } catch (error) {
          // Unconfirmed publishes still on the old channel are rejected by its close: their
          // senders retry them too (at-least-once).
          if (isNack(error) && publisher === current && !closed) {
            current = open();
            void publisher.close().catch(() => {});
          }
          if (attempt >= attempts_max) throw error;
          emitter.emit('retry', error, envelope, body);
        }
      }
    };
    return Object.assign(emitter, {
      send,
      close(): Promise<void> {
        closed = true;
        return current.close();
      },
    }) as Publisher;
  }
}

export function connectRabbit(
  address: BrokerAddress | string,
  connection_name: string,
  log: Logger,
): Connection {
  const { rabbitmq_url, rabbitmq_hosts } =
    typeof address === 'string' ? { rabbitmq_url: address, rabbitmq_hosts: [] } : address;
  const rabbit = new BrokerConnection({
    url: rabbitmq_url,
    hosts: rabbitmq_hosts.length > 0 ? [...rabbitmq_hosts] : undefined,
    connectionName: connection_name,
    connectionTimeout: 5_000,
    heartbeat: 15,
    retryLow: 100,
    retryHigh: 5_000,
    acquireTimeout: 5_000,
  });
  rabbit.on('error', (error) => log.error({ err: error }, 'rabbitmq connection error'));
  rabbit.on('connection', () => log.info('rabbitmq connected'));
  return rabbit;
}
