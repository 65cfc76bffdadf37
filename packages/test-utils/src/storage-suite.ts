/**
 * The storage contract as tests (store/types.ts): every store — SQLite now, PostgreSQL later —
 * runs this one suite against a real database. Each test gets a fresh store from the factory;
 * `options.connect` opens more stores on its database, for the concurrency section.
 */
import { describe } from 'vitest';
import { admin } from './storage/admin.js';
import { auditLog } from './storage/audit.js';
import { clientChanges } from './storage/client-changes.js';
import { concurrency } from './storage/concurrency.js';
import { type StorageSuiteOptions, type StoreFactory, useStore } from './storage/context.js';
import { credentials } from './storage/credentials.js';
import { deviceCodes } from './storage/device-codes.js';
import { expiry } from './storage/expiry.js';
import { feed } from './storage/feed.js';
import { grantsAndCodes } from './storage/grants-codes.js';
import { operations } from './storage/operations.js';
import { principals } from './storage/principals.js';
import { pushedRequests } from './storage/pushed-requests.js';
import { registration } from './storage/registration.js';
import { resources } from './storage/resources.js';
import { revocation } from './storage/revocation.js';
import { tokens } from './storage/tokens.js';
import { webhooks } from './storage/webhooks.js';

export function storageSuite(name: string, factory: StoreFactory, options: StorageSuiteOptions = {}): void {
  describe(`storage contract: ${name}`, () => {
    const ref = useStore(factory, options);
    principals(ref);
    grantsAndCodes(ref);
    pushedRequests(ref);
    deviceCodes(ref);
    tokens(ref);
    revocation(ref);
    resources(ref);
    credentials(ref);
    clientChanges(ref);
    registration(ref);
    feed(ref);
    expiry(ref);
    auditLog(ref);
    webhooks(ref);
    operations(ref);
    admin(ref);
    concurrency(ref);
  });
}
