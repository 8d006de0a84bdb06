// The services the routes call, built once per process from ready dependencies.

import type { Db } from 'mongodb';
import type { Logger } from '../../shared/logger.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { CardCommandPublisher } from '../broker/card-commands.ts';
import type { BalanceCache } from '../cache/balance-cache.ts';
import type { CacheInvalidator } from '../cache/invalidator.ts';
import type { WebhookCommandPublisher } from '../broker/webhook-commands.ts';
import type { DestinationGuard } from '../../shared/webhooks/destination.ts';
import { ApiKeyService } from './api-key-service.ts';
import { BalanceService } from './balance-service.ts';
import { CardService } from './card-service.ts';
import { CardholderService } from './cardholder-service.ts';
import { TransactionService } from './transaction-service.ts';
import { type DecisionBindingApplier, WebhookEndpointService } from './webhook-endpoint-service.ts';

export interface ApiServices {
  readonly cards: CardService;
  readonly balances: BalanceService;
  readonly cardholders: CardholderService;
  readonly transactions: TransactionService;
  readonly api_keys: ApiKeyService;
  readonly webhook_endpoints: WebhookEndpointService;
}

export interface ServiceDeps {
  readonly sql: PgSql;
  readonly db: Db;
  readonly invalidator: CacheInvalidator;
  readonly balance_cache: BalanceCache;
  readonly commands: CardCommandPublisher;
  readonly webhook_commands: WebhookCommandPublisher;
  /** Where webhook endpoints may point (SSRF policy). */
  readonly webhook_destinations: DestinationGuard;
  /** Binds the webhook queue to decisions while endpoints want them (shared/webhooks/decision-binding.ts). */
  readonly bind_webhook_decisions: DecisionBindingApplier;
  readonly log: Logger;
}

export function createServices(deps: ServiceDeps): ApiServices {
  const cards = new CardService(deps);
  const cardholders = new CardholderService(deps.sql, deps.db, deps.invalidator);
  return {
    cards,
    cardholders,
    balances: new BalanceService(deps.sql, deps.db, cards, deps.balance_cache, deps.log),
    transactions: new TransactionService(deps.sql, deps.db, cards, cardholders),
    api_keys: new ApiKeyService(deps.sql),
    webhook_endpoints: new WebhookEndpointService(
      deps.sql,
      deps.webhook_destinations,
      deps.webhook_commands,
      deps.bind_webhook_decisions,
      deps.log,
    ),
  };
}
