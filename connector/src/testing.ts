/**
 * Internal entry for this project's tests and bench (`@redis-on-docker/connector/dist/testing`):
 * looks inside a client without widening the public API (index.ts). No stability promise.
 */
export { fastLaneCalls, terminateWorker } from "./sync/syncClient";
