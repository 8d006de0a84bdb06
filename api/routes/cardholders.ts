// Companies and business users (PostgreSQL); personal users with KYC (MongoDB).

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { COMMON_ERRORS, ObjectIdHex, Uuid, WRITE_ERRORS } from '../schemas/common.ts';
import {
  BusinessUser,
  BusinessUserPage,
  Company,
  CompanyPage,
  CreateBusinessUserBody,
  CreateCompanyBody,
  CreatePersonalUserBody,
  PageOnlyQuery,
  PersonalUser,
  PersonalUserPage,
  UpdateBusinessUserBody,
  UpdatePersonalUserBody,
  businessUserView,
  companyView,
  personalUserView,
} from '../schemas/cardholders.ts';
import type { ApiServices } from '../services/services.ts';

const UuidParams = Type.Object({ id: Uuid });
const ObjectIdParams = Type.Object({ id: ObjectIdHex });

export async function cardholderRoutes(
  app: FastifyInstance,
  { services }: { services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { cardholders } = services;

  api.post(
    '/api/companies',
    { schema: { tags: ['companies'], body: CreateCompanyBody, response: { 201: Company, ...WRITE_ERRORS } } },
    async (request, reply) =>
      reply.status(201).send(companyView(await cardholders.createCompany(request.principal, request.body))),
  );
  api.get(
    '/api/companies',
    {
      schema: {
        tags: ['companies'],
        querystring: PageOnlyQuery,
        response: { 200: CompanyPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await cardholders.listCompanies(request.principal, request.query);
      return { data: page.data.map(companyView), next_cursor: page.next_cursor };
    },
  );
  api.get(
    '/api/companies/:id',
    { schema: { tags: ['companies'], params: UuidParams, response: { 200: Company, ...COMMON_ERRORS } } },
    async (request) => companyView(await cardholders.getCompany(request.principal, request.params.id)),
  );
  api.post(
    '/api/companies/:id/users',
    {
      schema: {
        tags: ['business users'],
        params: UuidParams,
        body: CreateBusinessUserBody,
        response: { 201: BusinessUser, ...WRITE_ERRORS },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          businessUserView(
            await cardholders.createBusinessUser(request.principal, request.params.id, request.body),
          ),
        ),
  );
  api.get(
    '/api/companies/:id/users',
    {
      schema: {
        tags: ['business users'],
        params: UuidParams,
        querystring: PageOnlyQuery,
        response: { 200: BusinessUserPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await cardholders.listBusinessUsers(request.principal, request.params.id, request.query);
      return { data: page.data.map(businessUserView), next_cursor: page.next_cursor };
    },
  );
  api.get(
    '/api/users/:id',
    {
      schema: {
        tags: ['business users'],
        params: UuidParams,
        response: { 200: BusinessUser, ...COMMON_ERRORS },
      },
    },
    async (request) =>
      businessUserView(await cardholders.getBusinessUser(request.principal, request.params.id)),
  );
  api.patch(
    '/api/users/:id',
    {
      schema: {
        tags: ['business users'],
        summary: 'Change status or role; a status change reaches the gateway at once',
        params: UuidParams,
        body: UpdateBusinessUserBody,
        response: { 200: BusinessUser, ...WRITE_ERRORS },
      },
    },
    async (request) =>
      businessUserView(
        await cardholders.updateBusinessUser(request.principal, request.params.id, request.body),
      ),
  );

  api.post(
    '/api/personal-users',
    {
      schema: {
        tags: ['personal users'],
        body: CreatePersonalUserBody,
        response: { 201: PersonalUser, ...WRITE_ERRORS },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(personalUserView(await cardholders.createPersonalUser(request.principal, request.body))),
  );
  api.get(
    '/api/personal-users',
    {
      schema: {
        tags: ['personal users'],
        querystring: PageOnlyQuery,
        response: { 200: PersonalUserPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await cardholders.listPersonalUsers(request.principal, request.query);
      return { data: page.data.map(personalUserView), next_cursor: page.next_cursor };
    },
  );
  api.get(
    '/api/personal-users/:id',
    {
      schema: {
        tags: ['personal users'],
        params: ObjectIdParams,
        response: { 200: PersonalUser, ...COMMON_ERRORS },
      },
    },
    async (request) =>
      personalUserView(await cardholders.getPersonalUser(request.principal, request.params.id)),
  );
  api.patch(
    '/api/personal-users/:id',
    {
      schema: {
        tags: ['personal users'],
        summary: 'Change status or KYC status; the gateway lets only active, KYC-verified cardholders spend',
        params: ObjectIdParams,
        body: UpdatePersonalUserBody,
        response: { 200: PersonalUser, ...WRITE_ERRORS },
      },
    },
    async (request) =>
      personalUserView(
        await cardholders.updatePersonalUser(request.principal, request.params.id, request.body),
      ),
  );
}
