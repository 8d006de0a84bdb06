// Personal cardholders (MongoDB `personal_users`) with their KYC status.

import { ObjectId, type Db } from 'mongodb';
import { objectIdOrNull } from './personal-cards.ts';

export const PERSONAL_USER_STATUSES = ['active', 'suspended', 'closed'] as const;
export type PersonalUserStatus = (typeof PERSONAL_USER_STATUSES)[number];
export const KYC_STATUSES = ['pending', 'verified', 'rejected'] as const;
export type KycStatus = (typeof KYC_STATUSES)[number];

export interface PersonalUserDocument {
  _id: ObjectId;
  user_token: string;
  email: string;
  status: PersonalUserStatus;
  kyc_status: KycStatus;
  created_at: Date;
  updated_at: Date;
}

export interface NewPersonalUser {
  readonly user_token: string;
  readonly email: string;
  readonly status: PersonalUserStatus;
  readonly kyc_status: KycStatus;
}

function users(db: Db) {
  return db.collection<PersonalUserDocument>('personal_users');
}

export async function insertPersonalUser(db: Db, input: NewPersonalUser): Promise<PersonalUserDocument> {
  const now = new Date();
  const doc: PersonalUserDocument = { _id: new ObjectId(), ...input, created_at: now, updated_at: now };
  await users(db).insertOne(doc);
  return doc;
}

export async function getPersonalUser(db: Db, id: string): Promise<PersonalUserDocument | null> {
  const _id = objectIdOrNull(id);
  return _id === null ? null : users(db).findOne({ _id });
}

export async function findPersonalUserByToken(
  db: Db,
  user_token: string,
): Promise<PersonalUserDocument | null> {
  return users(db).findOne({ user_token });
}

export async function listPersonalUsers(
  db: Db,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<PersonalUserDocument[]> {
  const query =
    after === undefined
      ? {}
      : {
          $or: [
            { created_at: { $lt: new Date(after.at) } },
            { created_at: new Date(after.at), _id: { $lt: new ObjectId(after.id) } },
          ],
        };
  return users(db)
    .find(query)
    .sort({ created_at: -1, _id: -1 })
    .limit(limit + 1)
    .toArray();
}

export async function updatePersonalUser(
  db: Db,
  id: string,
  change: { status?: PersonalUserStatus; kyc_status?: KycStatus },
): Promise<PersonalUserDocument | null> {
  const _id = objectIdOrNull(id);
  if (_id === null) return null;
  return users(db).findOneAndUpdate(
    { _id },
    { $set: { ...change, updated_at: new Date() } },
    { returnDocument: 'after' },
  );
}
