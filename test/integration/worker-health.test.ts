// The worker's health server: dependency health, readiness, Prometheus metrics.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteWorkQueue, startTestWorker, uniqueQueue, waitUntil } from '../support/worker-harness.ts';

const queue = uniqueQueue();
let worker: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  worker = await startTestWorker({ WORKER_DECISIONS_QUEUE: queue });
});
afterAll(async () => {
  if (!worker) return;
  await deleteWorkQueue(worker.rabbit, queue);
  await worker.close();
});

async function get(path: string) {
  const response = await request(`http://127.0.0.1:${worker.health_port}${path}`);
  return { status: response.statusCode, text: await response.body.text() };
}

describe('worker health server', () => {
  it('GET /health reports PostgreSQL, MongoDB and RabbitMQ up', async () => {
    const { status, text } = await get('/health');
    expect(status).toBe(200);
    const report = JSON.parse(text);
    expect(report.status).toBe('ok');
    expect(Object.keys(report.checks).sort()).toEqual(['mongodb', 'postgresql', 'rabbitmq']);
  });

  it('GET /ready is 200 once the consumer is consuming', async () => {
    await waitUntil(async () => (await get('/ready')).status === 200);
    const body = JSON.parse((await get('/ready')).text);
    expect(body.status).toBe('ready');
    expect(Object.values(body.consuming)).toContain(true);
    expect(body.checks.postgresql.status).toBe('up');
    expect(body.checks.mongodb.status).toBe('up');
  });

  it('GET /metrics serves worker and pool metrics in Prometheus format', async () => {
    const { status, text } = await get('/metrics');
    expect(status).toBe(200);
    expect(text).toContain('afc_messages_processed_total');
    expect(text).toContain('afc_pool_connections{store="postgresql",state="max",process="worker"} 20');
    expect(text).toMatch(/afc_pool_connections\{store="mongodb",state="open",process="worker"\} \d+/);
  });

  it('answers 404 for anything else: its only port is internal, with no public route', async () => {
    for (const path of ['/nope', '/api/transactions/authorize', '/api/health', '/'])
      expect((await get(path)).status, path).toBe(404);
  });
});
