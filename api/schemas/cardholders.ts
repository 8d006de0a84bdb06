// Company, business user and personal user schemas and views.

import Type, { type Static } from 'typebox';
import { BUSINESS_USER_STATUSES, type BusinessUserRow } from '../repos/business-users.ts';
import type { CompanyRow } from '../repos/companies.ts';
import { KYC_STATUSES, PERSONAL_USER_STATUSES, type PersonalUserDocument } from '../repos/personal-users.ts';
import { PageQuery } from '../http/pagination.ts';
import { Email, ObjectIdHex, Timestamp, Token, Uuid, pageOf } from './common.ts';

export const Company = Type.Object({
  id: Uuid,
  name: Type.String(),
  time_zone: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const CompanyPage = pageOf(Company);
export const CreateCompanyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const BusinessUser = Type.Object({
  id: Uuid,
  company_id: Uuid,
  user_token: Type.String(),
  email: Type.String(),
  role: Type.String(),
  status: Type.Enum(BUSINESS_USER_STATUSES),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const BusinessUserPage = pageOf(BusinessUser);
export const CreateBusinessUserBody = Type.Object(
  { email: Email, role: Type.String({ minLength: 1, maxLength: 50 }), user_token: Type.Optional(Token) },
  { additionalProperties: false },
);
export const UpdateBusinessUserBody = Type.Object(
  {
    status: Type.Optional(Type.Enum(BUSINESS_USER_STATUSES)),
    role: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const PersonalUser = Type.Object({
  id: ObjectIdHex,
  user_token: Type.String(),
  email: Type.String(),
  status: Type.Enum(PERSONAL_USER_STATUSES),
  kyc_status: Type.Enum(KYC_STATUSES),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const PersonalUserPage = pageOf(PersonalUser);
export const CreatePersonalUserBody = Type.Object(
  { email: Email, kyc_status: Type.Optional(Type.Enum(KYC_STATUSES)), user_token: Type.Optional(Token) },
  { additionalProperties: false },
);
export const UpdatePersonalUserBody = Type.Object(
  {
    status: Type.Optional(Type.Enum(PERSONAL_USER_STATUSES)),
    kyc_status: Type.Optional(Type.Enum(KYC_STATUSES)),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const PageOnlyQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export function companyView(row: CompanyRow): Static<typeof Company> {
  return {
    id: row.id,
    name: row.name,
    time_zone: row.time_zone,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function businessUserView(row: BusinessUserRow): Static<typeof BusinessUser> {
  return {
    id: row.id,
    company_id: row.company_id,
    user_token: row.user_token,
    email: row.email,
    role: row.role,
    status: row.status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function personalUserView(doc: PersonalUserDocument): Static<typeof PersonalUser> {
  return {
    id: String(doc._id),
    user_token: doc.user_token,
    email: doc.email,
    status: doc.status,
    kyc_status: doc.kyc_status,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}
