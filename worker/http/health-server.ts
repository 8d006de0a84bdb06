// The worker's only HTTP listener (WORKER_HEALTH_PORT), internal: for orchestrators and
// Prometheus, never routed from outside (deploy/k8s network policy admits Prometheus only):
//   GET /health   every dependency (2 s timeout each); 200 when all are up, 503 otherwise
//   GET /ready    200 while every consumer is consuming, PostgreSQL and MongoDB answer and the worker
//                 is not shutting down; the body says which part is not
//   GET /metrics  Prometheus text format
//   GET /reconcile  the differences between Redis and the ledger that stand (reconcile/
//                 standing-differences.ts), for the operator console
// node:http is enough for four fixed routes; no request body is ever read.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { type Check, type CheckResult, runChecks } from '../../shared/health.ts';
import type { Logger } from '../../shared/logger.ts';
import type { StandingReport } from '../reconcile/standing-differences.ts';

export interface HealthServerOptions {
  readonly port: number;
  readonly host: string;
  readonly checks: Readonly<Record<string, Check>>;
  readonly readiness: () => WorkerReadiness;
  readonly registry: Registry;
  readonly log: Logger;
  readonly reconcile: () => Promise<StandingReport>;
}

export interface WorkerReadiness {
  readonly ready: boolean;
  /** Per consumer: consuming now. */
  readonly consuming: Readonly<Record<string, boolean>>;
  /** The monitored stores' latest results. */
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** Requests slower than this are cut (a scrape or probe never needs longer). */
const REQUEST_TIMEOUT_MS = 10_000;

export async function startHealthServer(
  options: HealthServerOptions,
): Promise<{ server: Server; port: number }> {
  const server = createServer(async (request, response) => {
    const send = (status: number, body: string, content_type = 'application/json') => {
      response.writeHead(status, { 'content-type': content_type, 'cache-control': 'no-store' });
      response.end(body);
    };
    try {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET') return send(405, JSON.stringify({ error: 'method not allowed' }));
      if (path === '/health') {
        const report = await runChecks(options.checks);
        return send(report.status === 'ok' ? 200 : 503, JSON.stringify(report));
      }
      if (path === '/ready') {
        const { ready, ...parts } = options.readiness();
        return send(ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not_ready', ...parts }));
      }
      if (path === '/metrics')
        return send(200, await options.registry.metrics(), options.registry.contentType);
      if (path === '/reconcile') return send(200, JSON.stringify(await options.reconcile()));
      return send(404, JSON.stringify({ error: 'not found' }));
    } catch (error) {
      options.log.error({ err: error }, 'health server request failed');
      if (!response.headersSent) send(500, JSON.stringify({ error: 'internal error' }));
    }
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
