/**
 * The OpenAPI 3.1 document of the admin API, generated from the routes' zod schemas (z.toJSONSchema,
 * JSON Schema 2020-12, which OpenAPI 3.1 uses as is): request schemas as their input, answers as
 * their output.
 */
import { z } from 'zod';
import { PATHS } from '../http/routes.js';
import type { Route } from './route.js';

const json = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const PROBLEM = {
  description: 'RFC 9457 problem details',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        properties: {
          type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, detail: { type: 'string' } } } },
        },
        required: ['type', 'title', 'status'],
      },
    },
  },
};

/** A Server-Sent Events answer; `x-event-data` is the JSON schema of each event's data. */
const eventStream = (data: z.ZodType) => ({
  description: 'Server-Sent Events (WHATWG HTML §9.2), open until the client leaves',
  content: { 'text/event-stream': { schema: { type: 'string' }, 'x-event-data': json(data, 'output') } },
});

function operation(r: Route) {
  const query = r.query === undefined ? undefined : (json(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] });
  const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  // A repeatable parameter is an array sent as the parameter repeated (OpenAPI 3.1 §4.8.12.4: style form, explode).
  const queryParams = Object.entries(query?.properties ?? {}).map(([name, schema]) => ({
    name, in: 'query', required: query?.required?.includes(name) ?? false, ...(r.repeatable?.includes(name) ? { style: 'form', explode: true } : {}), schema,
  }));
  // WHATWG HTML §9.2.4: a reconnecting EventSource resumes with the last id it received.
  const headerParams = r.eventStream ? [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'the `id` of the last event received: the stream resumes after it' }] : [];
  return {
    summary: r.summary,
    tags: [r.tag],
    operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    ...(pathParams.length + queryParams.length + headerParams.length > 0 ? { parameters: [...pathParams, ...queryParams, ...headerParams] } : {}),
    // A body schema that accepts none (`.optional()`) is an optional request body.
    ...(r.body === undefined ? {} : { requestBody: { required: !r.body.safeParse(undefined).success, content: { 'application/json': { schema: json(r.body, 'input') } } } }),
    responses: {
      [r.status]: r.response === undefined ? { description: 'done' } : r.eventStream ? eventStream(r.response) : { description: 'success', content: { 'application/json': { schema: json(r.response, 'output') } } },
      default: PROBLEM,
    },
  };
}

export function openApiDocument(routes: readonly Route[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = PATHS.admin + r.path;
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: operation(r) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tessera admin API',
      version,
      description: 'Manage clients, users, grants, tokens and the audit log. Every request carries `Authorization: Bearer ADMIN_TOKEN` (`tessera admin token create`); read-only tokens may only GET. Errors are RFC 9457 problem details.',
    },
    components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'an admin token from `tessera admin token create`' } } },
    security: [{ adminToken: [] }],
    paths,
  };
}
