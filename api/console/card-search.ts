// Card search for the console: business cards (PostgreSQL) by part of a card token, cardholder
// (user token or email) or company name; personal cards (MongoDB) by their exact card token, the
// one lookup FerretDB answers without scanning a collection (shared/personal-card-tokens.ts). The
// query narrows to the key's company; every hit then goes through the card service, which applies
// the API's own tenancy rule before anything is shown.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { cardView } from '../schemas/cards.ts';
import type { ApiServices } from '../services/services.ts';

/** Hits shown for one search: the operator narrows the text rather than pages. */
const HITS_MAX = 50;

const SearchQuery = Type.Object(
  { q: Type.String({ minLength: 2, maxLength: 100 }) },
  { additionalProperties: false },
);

interface Hit {
  readonly id: string;
  readonly cardholder: string;
  readonly company: string;
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function cardSearchRoutes(
  app: FastifyInstance,
  options: { sql: PgSql; services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/console/search/cards', { schema: { querystring: SearchQuery } }, async (request) => {
    const company_id = request.principal.company_id;
    const pattern = likePattern(request.query.q.trim());
    const hits = await options.sql<Hit[]>`
      SELECT c.id, u.email AS cardholder, co.name AS company
        FROM cards c
        JOIN users u ON u.id = c.user_id
        JOIN companies co ON co.id = u.company_id
       WHERE (${company_id}::uuid IS NULL OR u.company_id = ${company_id}::uuid)
         AND (c.card_token ILIKE ${pattern} OR u.user_token ILIKE ${pattern}
              OR u.email ILIKE ${pattern} OR co.name ILIKE ${pattern})
       ORDER BY c.created_at DESC, c.id DESC
       LIMIT ${HITS_MAX}`;
    const data = [];
    const personal = await options.services.cards.findByToken(
      request.principal,
      'personal',
      request.query.q.trim(),
    );
    if (personal !== null) {
      const user = await options.services.cardholders.getPersonalUser(request.principal, personal.user_id);
      data.push({ card: cardView(personal), cardholder: user.email, company: '— (personal)' });
    }
    for (const hit of hits) {
      const card = await options.services.cards.get(request.principal, hit.id);
      data.push({ card: cardView(card), cardholder: hit.cardholder, company: hit.company });
    }
    return { data, limited: hits.length === HITS_MAX };
  });
}
