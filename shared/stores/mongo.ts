// MongoDB client: pool of 2-10 connections (design card), bounded server selection so a
// missing server fails fast instead of hanging a request.

import { MongoClient } from 'mongodb';

export interface MongoOptions {
  readonly uri: string;
  readonly app_name: string;
  readonly server_selection_timeout_ms?: number;
}

export function connectMongo(options: MongoOptions): MongoClient {
  return new MongoClient(options.uri, {
    appName: options.app_name,
    minPoolSize: 2,
    maxPoolSize: 10,
    maxIdleTimeMS: 30_000,
    useBigInt64: true,
    serverSelectionTimeoutMS: options.server_selection_timeout_ms ?? 2_000,
    connectTimeoutMS: 2_000,
    socketTimeoutMS: 30_000,
    retryWrites: true,
  });
}
