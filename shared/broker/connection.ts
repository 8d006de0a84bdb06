// One RabbitMQ connection object per process (rabbitmq-client reconnects by itself).

import { Connection } from 'rabbitmq-client';
import type { Logger } from '../logger.ts';

export function connectRabbit(url: string, connection_name: string, log: Logger): Connection {
  const rabbit = new Connection({
    url,
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
