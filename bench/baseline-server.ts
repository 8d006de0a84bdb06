// Baseline for the bench: a bare Fastify server doing what any JSON API must do for this
// request (parse the POST body, validate it against the same TypeBox schema the gateway
// compiles, serialize the same response schema) and nothing else. The gateway's throughput
// is reported as a ratio to this, measured in the same run on the same noisy machine.
//
// Run as a child process by bench/run.ts: BASELINE_PORT (required), BASELINE_HOST (127.0.0.1).

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { JitRequest, JitResponse } from '../gateway/jit/schema.ts';

const port = Number(process.env.BASELINE_PORT);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('configuration error: BASELINE_PORT must be a port number\n');
  process.exit(78);
}

const app = Fastify({
  logger: false,
  bodyLimit: 64 * 1024,
  requestTimeout: 3_000,
  keepAliveTimeout: 65_000,
  ajv: { customOptions: { allErrors: true, coerceTypes: false } },
}).withTypeProvider<TypeBoxTypeProvider>();

app.get('/ready', async () => ({ status: 'ok' }));

app.post(
  '/api/transactions/authorize',
  { schema: { body: JitRequest, response: { 200: JitResponse } } },
  async (request) => {
    const jit = (request.body.gpa_order ?? request.body.gpa_order_unload)!.jit_funding;
    return {
      jit_funding: {
        token: jit.token,
        method: jit.method,
        user_token: jit.user_token,
        acting_user_token: jit.acting_user_token ?? jit.user_token,
        amount: Number(jit.amount),
        memo: 'approved',
      },
    };
  },
);

await app.listen({ host: process.env.BASELINE_HOST ?? '127.0.0.1', port });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
