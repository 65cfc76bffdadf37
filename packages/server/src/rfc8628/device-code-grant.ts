import { required } from '@tessera/core';
import type { TokenGrant } from '../rfc6749/grants/types.js';
import { DEVICE_CODE_GRANT } from '../store/types.js';

/** RFC 8628 §3.4: the device polls with its device code until the user decided (§3.5). */
export const deviceCode: TokenGrant = {
  grantType: DEVICE_CODE_GRANT,
  params: ['device_code'],
  handle: ({ engine, client, params, by, jkt, resource }) => engine.pollDeviceCode(client, required(params.device_code, 'device_code'), by, jkt, resource),
};
