// The fake Marqeta's Commando control routes (server.ts registers them under /__fake):
//   POST /__fake/commando {rule, gateway_url, gateway_user, gateway_password, webhook_url,
//                          webhook_user, webhook_password}: turns Commando Mode on (rule
//                          `decline` or `approve:<minor>`, commando.ts)
//   POST /__fake/jit      a JIT Funding request body: sent to our gateway as Marqeta sends it;
//                          when the gateway leaves it undecided (5xx, no connection, over 3 s)
//                          the stand-in rule decides and the notification goes to our webhook,
//                          retried until answered 200. Answers {decided_by, status_code, approved}.
//   GET  /__fake/commando  what was stood in for and the deliveries.

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MoneyError, toMinor } from '../shared/money.ts';
import {
  isUndecided,
  jitSummary,
  MARQETA_TIMEOUT_MS,
  NotificationSender,
  parseStandinRule,
  postJson,
  type StandinRule,
  standIn,
  standinNotification,
} from './commando.ts';
import { FakeError, type Json } from './store.ts';

const CommandoSchema = Type.Object(
  {
    rule: Type.String({ pattern: '^(decline|approve:[0-9]{1,15})$' }),
    gateway_url: Type.String({ pattern: '^https?://', maxLength: 500 }),
    gateway_user: Type.String({ maxLength: 200 }),
    gateway_password: Type.String({ maxLength: 200 }),
    webhook_url: Type.String({ pattern: '^https?://', maxLength: 500 }),
    webhook_user: Type.String({ maxLength: 200 }),
    webhook_password: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
);

interface Active {
  readonly rule: StandinRule;
  readonly gateway_url: string;
  readonly gateway_authorization: string;
  readonly sender: NotificationSender;
}

function minorOf(body: Json): bigint {
  const order = (body.gpa_order ?? body.gpa_order_unload) as
    | { jit_funding?: { amount?: unknown } }
    | undefined;
  const amount = order?.jit_funding?.amount;
  try {
    return typeof amount === 'number' || typeof amount === 'string'
      ? toMinor(amount, String(body.currency_code ?? 'USD'))
      : 0n;
  } catch (error) {
    if (error instanceof MoneyError) return 0n;
    throw error;
  }
}

export class CommandoRoute {
  #active: Active | null = null;
  readonly #counts = { sent: 0, gateway_decided: 0, stood_in_approved: 0, stood_in_declined: 0 };

  register(fastify: FastifyInstance): void {
    const control = fastify.withTypeProvider<TypeBoxTypeProvider>();
    control.addHook('onClose', async () => {
      await this.#active?.sender.close();
    });
    control.post('/commando', { schema: { body: CommandoSchema } }, async (request, reply) => {
      await this.#active?.sender.close();
      const body = request.body;
      this.#active = {
        rule: parseStandinRule(body.rule),
        gateway_url: body.gateway_url,
        gateway_authorization: `Basic ${Buffer.from(`${body.gateway_user}:${body.gateway_password}`).toString('base64')}`,
        sender: new NotificationSender({
          url: body.webhook_url,
          user: body.webhook_user,
          password: body.webhook_password,
        }),
      };
      return reply.code(201).send({ rule: body.rule });
    });
    control.get('/commando', async () => ({
      ...this.#counts,
      deliveries: this.#active?.sender.counts() ?? null,
    }));
    control.post('/jit', async (request) => this.#jit(request.body as Json));
  }

  async #jit(body: Json) {
    const active = this.#active;
    if (active === null) throw new FakeError(409, '409001', 'POST /__fake/commando first');
    this.#counts.sent++;
    const started_ms = performance.now();
    const status_code = await postJson(
      active.gateway_url,
      active.gateway_authorization,
      body,
      MARQETA_TIMEOUT_MS,
    );
    if (!isUndecided(status_code, performance.now() - started_ms)) {
      this.#counts.gateway_decided++;
      return { decided_by: 'gateway', status_code, approved: status_code === 200 };
    }
    const summary = jitSummary(body, minorOf(body));
    const approved = summary === null ? null : standIn(active.rule, summary);
    if (summary === null || approved === null) return { decided_by: 'none', status_code, approved: false };
    this.#counts[approved ? 'stood_in_approved' : 'stood_in_declined']++;
    active.sender.send(standinNotification(summary, approved));
    return { decided_by: 'standin', status_code, approved };
  }
}
