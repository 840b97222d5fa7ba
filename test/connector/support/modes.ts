/**
 * The four client modes, built through the public `createClient`, and a form-neutral view
 * of a client so one behaviour table runs in every mode (`await` on a sync result is a no-op).
 */
import Redis, { Cluster } from "ioredis";
import {
  createReadyClient,
  loadConfig,
  type ClientForm,
  type ConnectorClient,
  type ConnectorConfig,
  type DeepPartial,
  type StackOutputs,
  type Topology,
} from "@redis-on-docker/connector";

export interface Mode {
  topology: Topology;
  form: ClientForm;
}

export const MODES: readonly Mode[] = [
  { topology: "standalone", form: "async" },
  { topology: "cluster", form: "async" },
  { topology: "standalone", form: "sync" },
  { topology: "cluster", form: "sync" },
];

export const modeName = (mode: Mode): string => `${mode.form} ${mode.topology}`;

type Maybe<T> = T | Promise<T>;

/** The commands the behaviour table uses, as both forms offer them. */
export interface BehaviourClient {
  set(key: string, value: string | Buffer): Maybe<unknown>;
  get(key: string): Maybe<string | null>;
  getBuffer(key: string): Maybe<Buffer | null>;
  mset(...keysAndValues: string[]): Maybe<unknown>;
  mget(...keys: string[]): Maybe<Array<string | null>>;
  del(...keys: string[]): Maybe<number>;
  incr(key: string): Maybe<number>;
}

/** Config for a mode from the runner's outputs document, plus test overrides. */
export function modeConfig(mode: Mode, outputs: StackOutputs, overrides: DeepPartial<ConnectorConfig> = {}): ConnectorConfig {
  return loadConfig({ env: {}, outputs, overrides: { ...overrides, topology: mode.topology, form: mode.form } });
}

/** Builds the mode's client and, for async forms, waits (bounded) until it is ready. */
export function openClient(config: ConnectorConfig): Promise<ConnectorClient> {
  return createReadyClient(config);
}

/** Closes any client the connector builds (async: drop the sockets; sync: end the worker). */
export function closeClient(client: ConnectorClient | undefined): void {
  if (client === undefined) return;
  if (client instanceof Redis || client instanceof Cluster) client.disconnect();
  else client.close();
}

export function asBehaviourClient(client: ConnectorClient): BehaviourClient {
  return client as unknown as BehaviourClient;
}
