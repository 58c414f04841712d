/** The API handlers this broker implements, and ApiVersions advertising exactly those versions. */
import { Writer } from '../codec.js';
import { ApiKey, ErrorCode } from '../protocol.js';
import { createTopicsHandler, findCoordinatorHandler, initProducerIdHandler, metadataHandler } from './cluster.js';
import { fetchHandler, listOffsetsHandler } from './fetch.js';
import { heartbeatHandler, joinGroupHandler, leaveGroupHandler, syncGroupHandler } from './groups.js';
import { offsetCommitHandler, offsetFetchHandler } from './offsets.js';
import { produceHandler } from './produce.js';
import type { ApiHandler } from './types.js';

/**
 * ApiVersions v0-v2. An unsupported version is answered in the v0 format with
 * UNSUPPORTED_VERSION, as Kafka does, so the client can retry with a lower one.
 */
const apiVersionsHandler: ApiHandler = {
  apiKey: ApiKey.ApiVersions,
  minVersion: 0,
  maxVersion: 2,
  handle(_body, { apiVersion }) {
    const supported = apiVersion >= 0 && apiVersion <= 2;
    const w = new Writer().int16(supported ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION);
    w.array([...HANDLERS.values()], (w, h) => w.int16(h.apiKey).int16(h.minVersion).int16(h.maxVersion));
    return supported && apiVersion >= 1 ? w.int32(0) : w;
  },
};

export const HANDLERS: ReadonlyMap<number, ApiHandler> = new Map(
  [
    produceHandler,
    fetchHandler,
    listOffsetsHandler,
    metadataHandler,
    offsetCommitHandler,
    offsetFetchHandler,
    findCoordinatorHandler,
    joinGroupHandler,
    heartbeatHandler,
    leaveGroupHandler,
    syncGroupHandler,
    apiVersionsHandler,
    createTopicsHandler,
    initProducerIdHandler,
  ].map((h) => [h.apiKey, h]),
);

/** The advertised [min, max] version per API key. */
export function supportedVersions(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
  return [...HANDLERS.values()].map(({ apiKey, minVersion, maxVersion }) => ({ apiKey, minVersion, maxVersion }));
}
