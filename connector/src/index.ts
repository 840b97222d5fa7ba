/** Public API of the connector. */
export type { Endpoint, StackOutputs, StandaloneOutputs, ClusterOutputs } from "./stackOutputs";
export type { ConnectorConfig, Topology, ClientForm, ScaleReads } from "./config/types";
