// POST /api/transactions/authorize: Marqeta's Gateway JIT Funding request in, 200 (approve)
// or 402 (decline) out; 503 GW_ERR_UNDECIDED when undecided and UNDECIDED_ANSWER=standin. The
// hot path: Basic auth, compiled schema validation, exact amount parsing, then one Redis script
// call. Nothing else is awaited before the answer.

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiError } from '../../shared/errors.ts';
import { statusInfo } from '../../shared/decision-status.ts';
import { maskToken } from '../../shared/logger.ts';
import type { Decider } from '../decide/decider.ts';
import { basicAuthVerifier } from '../http/basic-auth.ts';
import { isUndecided } from '../http/undecided-answer.ts';
import { JitRequest, JitResponse } from '../jit/schema.ts';
import { answer, parseJit } from '../jit/translate.ts';

export interface AuthorizeRouteOptions {
  readonly decider: Decider;
  readonly basic_auth_user: string;
  readonly basic_auth_password: string;
  readonly basic_auth_password_next: string | null;
  readonly program_time_zone: string;
  /** Program setting: answer a partial amount when the network allows it. */
  readonly partial_approval_enabled: boolean;
}

export const AUTHORIZE_ROUTE = '/api/transactions/authorize';

export async function authorizeRoute(app: FastifyInstance, options: AuthorizeRouteOptions): Promise<void> {
  const verify = basicAuthVerifier(
    options.basic_auth_user,
    options.basic_auth_password,
    options.basic_auth_password_next,
  );
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    AUTHORIZE_ROUTE,
    {
      schema: { body: JitRequest, response: { 200: JitResponse, 402: JitResponse } },
      // Callback style: no promise per request on the hot path.
      onRequest: (request, _reply, done) => {
        done(verify(request.headers.authorization) ? undefined : new ApiError('GW_ERR_UNAUTHORIZED'));
      },
    },
    async (request, reply) => {
      const started_ms = performance.now();
      const parsed = parseJit(request.body, Date.now(), options.program_time_zone);
      const { request: decision_request } = parsed;
      if (parsed.forced_status !== undefined) {
        request.log.warn(
          { method: decision_request.method, jit_token: decision_request.jit_token },
          `JIT message declined before the rules: ${statusInfo(parsed.forced_status).memo}`,
        );
      }
      const outcome = await options.decider.decide(decision_request, {
        forced_status: parsed.forced_status,
        partial_capable: options.partial_approval_enabled && parsed.partial_capable,
      });
      // Not decided (Redis down, over budget, failed fill, or a replay of one): UNDECIDED_ANSWER
      // says whether that is our 402 or the 503 that lets Marqeta stand in (http/undecided-answer.ts).
      if (isUndecided(outcome.status_code)) {
        options.decider.undecided.answer(outcome.source === 'script' ? 'replay' : outcome.source);
      }
      const { status_code, body } = answer(parsed, outcome);
      // Debug: every decision is in the ledger and the metrics; a line per purchase is hot-path I/O
      // (and so is building it: only when debug is on).
      if (request.log.level === 'debug' || request.log.level === 'trace') {
        request.log.debug(
          {
            jit_token: decision_request.jit_token,
            card_token: maskToken(decision_request.card_token),
            status: body.jit_funding.memo,
            replayed: outcome.replayed,
            decision_ms: performance.now() - started_ms,
          },
          'decision',
        );
      }
      return reply.status(status_code).send(body);
    },
  );
}
