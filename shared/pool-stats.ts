// Store pool gauges (afc_pool_connections{store,state}) for a process's /metrics.
// MongoDB: from the driver's connection-pool events ('open', 'in_use'), current as they happen.
// postgres.js exposes no pool statistics: its configured maximum is reported ('max').

import type { MongoClient } from 'mongodb';
import type { poolMetrics } from './metrics.ts';

type PoolGauge = ReturnType<typeof poolMetrics>['pool_connections'];

export function trackStorePools(
  mongo: MongoClient,
  postgres_max_connections: number,
  gauge: PoolGauge,
): void {
  const open = { store: 'mongodb', state: 'open' } as const;
  const in_use = { store: 'mongodb', state: 'in_use' } as const;
  gauge.set(open, 0);
  gauge.set(in_use, 0);
  gauge.set({ store: 'postgresql', state: 'max' }, postgres_max_connections);
  mongo.on('connectionCreated', () => gauge.inc(open));
  mongo.on('connectionClosed', () => gauge.dec(open));
  mongo.on('connectionCheckedOut', () => gauge.inc(in_use));
  mongo.on('connectionCheckedIn', () => gauge.dec(in_use));
}
