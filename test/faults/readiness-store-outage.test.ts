// Readiness reflects a store outage (the design promises within 2 s): with PostgreSQL or MongoDB
// down, the gateway stays ready (it still decides cached cards) and names the store down in its
// readiness body; the worker answers 503 naming it. Both clear once the store is back. Private
// stores (chaos/stores.ts), so the shared ones are never stopped.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRunStores, type RunStores } from '../../chaos/stores.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { waitFor } from '../../shared/dev/processes.ts';
import { deleteWorkQueue, startTestWorker, uniqueQueue } from '../support/worker-harness.ts';

/** The 2 s promise plus room for a loaded test machine: the chaos report measures the real delay. */
const REFLECT_LIMIT_MS = 4_000;
/** A restarted store takes a while to accept connections again (PostgreSQL replays its WAL). */
const CLEAR_LIMIT_MS = 30_000;

interface Probe {
  readonly status: number;
  readonly body: { status: string; checks: Record<string, { status: string }> };
}

let stores: RunStores;
let gateway: Awaited<ReturnType<typeof startTestGateway>>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const queue = uniqueQueue();

beforeAll(async () => {
  stores = await openRunStores();
  const overrides = { DATABASE_URL: stores.database_url, MONGODB_URI: stores.mongodb_uri };
  gateway = await startTestGateway(overrides);
  worker = await startTestWorker({ ...overrides, WORKER_DECISIONS_QUEUE: queue });
});
afterAll(async () => {
  if (worker) {
    await deleteWorkQueue(worker.rabbit, queue);
    await worker.close();
  }
  await gateway?.close();
  await stores?.close();
});

type TestGateway = typeof gateway;
type TestWorker = typeof worker;

async function gatewayReady(of: TestGateway = gateway): Promise<Probe> {
  const response = await of.internal_app.inject({ method: 'GET', url: '/api/health/ready' });
  return { status: response.statusCode, body: response.json() };
}

async function workerReady(of: TestWorker = worker): Promise<Probe> {
  const response = await request(`http://127.0.0.1:${of.health_port}/ready`);
  return { status: response.statusCode, body: (await response.body.json()) as Probe['body'] };
}

/** Waits until both probes show `store` down as expected; returns how long that took. */
async function outageShown(store: string): Promise<number> {
  const started_ms = performance.now();
  await waitFor(
    async () => {
      const [g, w] = await Promise.all([gatewayReady(), workerReady()]);
      return (
        g.status === 200 &&
        g.body.status === 'degraded' &&
        g.body.checks[store]?.status === 'down' &&
        w.status === 503 &&
        w.body.checks[store]?.status === 'down'
      );
    },
    `${store} down in both readiness bodies`,
    REFLECT_LIMIT_MS,
    50,
  );
  return performance.now() - started_ms;
}

async function allClear(
  of: { gateway: TestGateway; worker: TestWorker } = { gateway, worker },
): Promise<void> {
  await waitFor(
    async () => {
      const [g, w] = await Promise.all([gatewayReady(of.gateway), workerReady(of.worker)]);
      return g.status === 200 && g.body.status === 'ok' && w.status === 200;
    },
    'both ready with every store up',
    CLEAR_LIMIT_MS,
  );
}

describe('readiness during a store outage', () => {
  it('starts ready with every store up', async () => {
    await allClear();
    const g = await gatewayReady();
    expect(Object.keys(g.body.checks).sort()).toEqual(['mongodb', 'postgresql', 'rabbitmq', 'redis']);
  });

  const outages = [
    {
      what: 'PostgreSQL crashed',
      store: 'postgresql',
      down: () => stores.postgres.crash(),
      up: () => stores.postgres.start(),
    },
    {
      what: 'MongoDB (FerretDB) killed',
      store: 'mongodb',
      down: () => stores.ferretdb.kill(),
      up: () => stores.ferretdb.start(),
    },
  ];
  for (const outage of outages) {
    it(`${outage.what}: the gateway stays ready and reports it, the worker is not ready; both clear after`, async () => {
      await outage.down();
      try {
        const shown_ms = await outageShown(outage.store);
        console.info(`${outage.what}: shown in readiness after ${Math.round(shown_ms)} ms`);
      } finally {
        await outage.up();
      }
      await allClear();
    });
  }

  // The driver keeps a topology whose first connect failed, closed, for good (shared/stores/mongo.ts).
  it('a gateway and a worker started while MongoDB is down connect once it is back', async () => {
    await stores.ferretdb.kill();
    const overrides = { DATABASE_URL: stores.database_url, MONGODB_URI: stores.mongodb_uri };
    const late_queue = uniqueQueue();
    let late: { gateway: TestGateway; worker: TestWorker };
    try {
      late = {
        gateway: await startTestGateway(overrides),
        worker: await startTestWorker({ ...overrides, WORKER_DECISIONS_QUEUE: late_queue }),
      };
      // Long enough for the first connect attempts (2 s server selection) to fail.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect((await workerReady(late.worker)).body.checks.mongodb?.status).toBe('down');
    } finally {
      await stores.ferretdb.start();
    }
    try {
      await allClear(late);
      await allClear();
    } finally {
      await deleteWorkQueue(late.worker.rabbit, late_queue);
      await late.worker.close();
      await late.gateway.close();
    }
  });
});
