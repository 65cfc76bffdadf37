export { storageSuite } from './storage-suite.js';
export type { StorageSuiteOptions, StoreFactory } from './storage/context.js';
export { auditCount, lastAuditSeq } from './storage/context.js';
export { clientRecord, codeRecord, deviceCodeRecord, grantRecord, pushedRequestRecord, sessionRecord, tokenRecord, userRecord } from './fixtures.js';
export { createTestDatabase, postgresMissing, TEST_PG } from './postgres.js';
export type { TestDatabase } from './postgres.js';
