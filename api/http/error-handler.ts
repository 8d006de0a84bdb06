// One JSON error shape for every management API error (shared/errors.ts, API_ERR_* codes).
// Validation errors list each field; database unique violations become 409; anything
// unexpected is logged with context and answered with a generic message.

import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, errorBody, type ErrorCode, type FieldError } from '../../shared/errors.ts';
import { errorContext } from '../../shared/http/error-context.ts';

const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'API_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'API_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_TYPE: 'API_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'API_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'API_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'API_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'API_ERR_BAD_REQUEST',
};

/** PostgreSQL unique_violation and MongoDB duplicate key. */
function isDuplicate(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 11000;
}

interface ValidationIssue {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}

/** JSON pointers prefixed with the request part: body/daily_limit_minor, querystring/limit. */
export function fieldErrors(part: string, issues: readonly ValidationIssue[]): FieldError[] {
  const seen = new Set<string>();
  const fields: FieldError[] = [];
  for (const issue of issues) {
    // TypeBox reports a false additionalProperties twice; the named entry is the useful one.
    if (issue.keyword === 'boolean') continue;
    const named =
      issue.params.requiredProperties ?? issue.params.missingProperty ?? issue.params.additionalProperties;
    const names =
      issue.keyword === 'required' || issue.keyword === 'additionalProperties' ? [named ?? []].flat() : [];
    const paths =
      names.length > 0 ? names.map((name) => `${issue.instancePath}/${String(name)}`) : [issue.instancePath];
    const message =
      issue.keyword === 'additionalProperties' ? 'is not a known property' : (issue.message ?? 'is invalid');
    for (const pointer of paths) {
      const path = `${part}${pointer}`;
      if (seen.has(`${path} ${message}`)) continue;
      seen.add(`${path} ${message}`);
      fields.push({ path, message });
    }
  }
  return fields;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.status(error.status).send(errorBody(error.code, request.id, error.message, error.fields));
    }
    if (error.validation) {
      const fields = fieldErrors(
        error.validationContext ?? 'body',
        error.validation as unknown as ValidationIssue[],
      );
      return reply
        .status(400)
        .send(errorBody('API_ERR_BAD_REQUEST', request.id, 'The request is invalid.', fields));
    }
    if (isDuplicate(error)) return reply.status(409).send(errorBody('API_ERR_ALREADY_EXISTS', request.id));
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return reply.status(error.statusCode ?? 400).send(errorBody(mapped, request.id));
    if (error instanceof SyntaxError || error.statusCode === 400) {
      return reply
        .status(400)
        .send(errorBody('API_ERR_BAD_REQUEST', request.id, 'The body is not valid JSON.'));
    }
    if (error.statusCode === 503) return reply.status(503).send(errorBody('API_ERR_UNAVAILABLE', request.id));
    request.log.error({ err: error, ...errorContext(request) }, 'unexpected error');
    return reply.status(500).send(errorBody('API_ERR_INTERNAL', request.id));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('API_ERR_NOT_FOUND', request.id));
  });
}
