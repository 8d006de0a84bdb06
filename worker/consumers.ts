// Every consumer a worker process runs, started and stopped together. A new consumer
// (webhook fan-out on afc.webhooks, Marqeta commands on afc.marqeta) is one line here.

import type { ConsumerStarter } from './consumer-handle.ts';
import { startDecisionConsumer, startPersonalDecisionConsumer } from './decisions/consumer.ts';
import { startCardIssueConsumer } from './marqeta/card-issue-consumer.ts';
import { startNotificationConsumer } from './notifications/consumer.ts';
import { startWebhookConsumer } from './webhooks/consumer.ts';

export const WORKER_CONSUMERS: readonly ConsumerStarter[] = [
  startDecisionConsumer,
  startPersonalDecisionConsumer,
  startWebhookConsumer,
  startCardIssueConsumer,
  startNotificationConsumer,
];
