// One RabbitMQ connection object per process (rabbitmq-client reconnects by itself). With
// RABBITMQ_HOSTS it tries the broker nodes in turn, so losing one node of a cluster means a
// reconnect to a live one; credentials, vhost and TLS come from RABBITMQ_URL.

import { Connection } from 'rabbitmq-client';
import type { CommonConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

export type BrokerAddress = Pick<CommonConfig, 'rabbitmq_url' | 'rabbitmq_hosts'>;

export function connectRabbit(
  address: BrokerAddress | string,
  connection_name: string,
  log: Logger,
): Connection {
  const { rabbitmq_url, rabbitmq_hosts } =
    typeof address === 'string' ? { rabbitmq_url: address, rabbitmq_hosts: [] } : address;
  const rabbit = new Connection({
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
