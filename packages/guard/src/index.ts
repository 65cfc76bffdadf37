/** @tessera/guard: bearer-token verification with a revocation feed (issue 4). */
export {};
