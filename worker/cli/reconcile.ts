// Reconciliation CLI (docs/operations.md, "Rebuilding Redis from the ledger"):
//   npm run reconcile [-- --card <card token>] [--rebuild [--force]]
// Prints every difference between Redis and the ledger and between the ledger and the Marqeta
// notifications, the stand-in approvals booked per card and per program with the spend they
// added beyond limits (`stand-in: ...`), then `reconcile: N cards checked, M differences`.
// --rebuild then deletes the live ledger hashes (the gateway refills each card from the ledger on its next decision),
// refusing while the outbox or the decision queue still holds decisions unless --force.
// Exit codes: 0 no differences (or rebuilt), 1 differences or failure, 64 usage, 78 configuration.

import { parseArgs } from 'node:util';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { loadOrExit, loadWorkerConfig } from '../../shared/config.ts';
import { createLogger, maskToken } from '../../shared/logger.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { deleteLedgerHashes, rebuildBlockers } from '../reconcile/rebuild.ts';
import { differenceCount, reconcile } from '../reconcile/reconcile.ts';

const USAGE = 'usage: reconcile [--card <card token>] [--rebuild [--force]]';

function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(64);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      card: { type: 'string' },
      rebuild: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const { values } = parsed;
if (values.card !== undefined && !/^[A-Za-z0-9_.:-]{1,255}$/.test(values.card)) usage('bad card token');
if (values.force && !values.rebuild) usage('--force only goes with --rebuild');

const config = loadOrExit(() => loadWorkerConfig());
const log = createLogger('reconcile-cli', config.log_level === 'info' ? 'warn' : config.log_level);
const sql = connectPostgres({
  url: config.database_url,
  application_name: 'afc-reconcile',
  max_connections: 2,
});
const mongo = connectMongo({ uri: config.mongodb_uri, app_name: 'afc-reconcile' });
const redis = connectRedis({
  url: config.redis_url,
  cluster_nodes: config.redis_cluster_nodes,
  connection_name: 'afc-reconcile',
});
const print = (text: string) => process.stdout.write(`${text}\n`);
const masked = (token: string | null) => (token === null ? '-' : maskToken(token));

try {
  await redis.connect();
  const report = await reconcile(
    { redis, sql, db: mongo.db(), key_prefix: config.redis_key_prefix },
    { card_token: values.card ?? null, scope: 'all' },
  );
  for (const d of report.differences) {
    print(
      `difference: card ${masked(d.card_token)} ${d.field} redis=${d.redis ?? '-'} ledger=${d.ledger ?? '-'}`,
    );
  }
  for (const n of report.notifications) {
    print(`notification: ${n.event_token} card ${masked(n.card_token)} ${n.problem}`);
  }
  // What Marqeta's stand-in approvals cost (minor units): not differences, so no exit code.
  for (const c of report.standins.cards) {
    print(
      `stand-in: card ${masked(c.card_token)} ${c.standins} booked, ${c.booked_minor} ${c.currency_code}, ${c.over_limit_minor} beyond limits`,
    );
  }
  for (const [currency_code, p] of report.standins.program) {
    print(
      `stand-in: program ${p.standins} booked, ${p.booked_minor} ${currency_code}, ${p.over_limit_minor} beyond limits`,
    );
  }
  const differences = differenceCount(report);
  print(`reconcile: ${report.cards_checked} cards checked, ${differences} differences`);
  process.exitCode = differences > 0 ? 1 : 0;

  if (values.rebuild) {
    const rabbit = connectRabbit(config, 'afc-reconcile', log);
    try {
      const blockers = await rebuildBlockers(redis, rabbit, {
        prefix: config.redis_key_prefix,
        shards: config.redis_shards,
      });
      for (const blocker of blockers) print(`rebuild: ${blocker}`);
      if (blockers.length > 0 && !values.force) {
        print('rebuild: refused (decisions not yet in the ledger would be lost; --force to rebuild anyway)');
        process.exitCode = 1;
      } else {
        const deleted = await deleteLedgerHashes(redis, config.redis_key_prefix, values.card ?? null);
        print(
          `rebuild: ${deleted} ledger hashes deleted; each card is rebuilt from the ledger on its next decision`,
        );
        process.exitCode = 0;
      }
    } finally {
      await rabbit.close();
    }
  }
} catch (error) {
  process.stderr.write(`reconcile failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
  await Promise.allSettled([sql.end({ timeout: 5 }), mongo.close()]);
}
