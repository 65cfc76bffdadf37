/** @tessera/client: an OAuth 2 client for the whole life of a token (issue 3). */
export {};
