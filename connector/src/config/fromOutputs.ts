/** Maps the outputs document onto connector settings. */
import type { StackOutputs } from "../generated/outputsContract";
import type { ConnectorConfig } from "./types";

/** Recursively optional, for partial configs (file contents, overrides). */
export type DeepPartial<T> = T extends Array<infer U>
  ? Array<U>
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * Which addresses to use: `host` (published ports + natMap, for apps on the host) or
 * `internal` (container addresses, for apps inside the Docker network; no natMap needed).
 */
export type OutputsNetwork = "host" | "internal";

/** The settings an outputs document determines: endpoints, natMap and password. */
export function configFromStackOutputs(outputs: StackOutputs, network: OutputsNetwork = "host"): DeepPartial<ConnectorConfig> {
  const internal = network === "internal";
  return {
    standalone: internal
      ? { host: outputs.standalone.internalHost, port: outputs.standalone.internalPort }
      : { host: outputs.standalone.host, port: outputs.standalone.port },
    cluster: {
      nodes: (internal ? outputs.cluster.internalSeeds : outputs.cluster.seeds).map((e) => ({ host: e.host, port: e.port })),
      natMap: internal ? {} : Object.fromEntries(
        Object.entries(outputs.cluster.natMap).map(([from, to]) => [from, { host: to.host, port: to.port }]),
      ),
    },
    password: outputs.password,
  };
}
