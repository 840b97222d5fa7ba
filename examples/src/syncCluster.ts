/**
 * The seed's `sync_cluster`: a blocking client to the cluster (auth on every node, natMap
 * applied), no `await`. Connection settings come only from REDIS_* env.
 */
import { createClient, loadConfig } from "@redis-on-docker/connector";

export function syncCluster(): string | null {
  const client = createClient(loadConfig({ overrides: { topology: "cluster", form: "sync" } }));
  try {
    client.set("name", "sync cluster");
    return client.get("name");
  } finally {
    client.close();
  }
}

if (require.main === module) console.log(syncCluster());
