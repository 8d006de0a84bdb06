// One JSON error shape for every error the gateway returns (shared/errors.ts).
// Validation errors list each field; unexpected errors are logged with context and answered
// with a generic message.

import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, errorBody, type ErrorCode, type FieldError } from '../../shared/errors.ts';
import { errorContext } from '../../shared/http/error-context.ts';

const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'GW_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'GW_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'GW_ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
};

function fieldErrors(error: FastifyError): FieldError[] {
  return (error.validation ?? []).map((issue) => {
    const missing = issue.keyword === 'required' ? `/${String(issue.params.missingProperty)}` : '';
    return { path: `${issue.instancePath}${missing}` || '/', message: issue.message ?? 'is invalid' };
  });
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.status(error.status).send(errorBody(error.code, request.id, error.message, error.fields));
    }
    if (error.validation) {
      return reply
        .status(400)
        .send(
          errorBody('GW_ERR_BAD_REQUEST', request.id, 'The request body is invalid.', fieldErrors(error)),
        );
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped)
      return reply.status(error.statusCode ?? 400).send(errorBody(mapped, request.id, error.message));
    if (error instanceof SyntaxError || error.statusCode === 400) {
      return reply
        .status(400)
        .send(errorBody('GW_ERR_BAD_REQUEST', request.id, 'The body is not valid JSON.'));
    }
    if (error.statusCode === 429) {
      return reply.status(429).send(errorBody('GW_ERR_RATE_LIMITED', request.id));
    }
    if (error.statusCode === 503) {
      return reply.status(503).send(errorBody('GW_ERR_UNAVAILABLE', request.id));
    }
    request.log.error({ err: error, ...errorContext(request) }, 'unexpected error');
    return reply.status(500).send(errorBody('GW_ERR_INTERNAL', request.id));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('GW_ERR_NOT_FOUND', request.id));
  });
}
