/**
 * The seed's `async_cluster`: ioredis `Cluster` (natMap, password on every discovered node).
 * Connection settings come only from REDIS_* env.
 */
import { connect } from "@redis-on-docker/connector";

export async function asyncCluster(): Promise<string | null> {
  const client = await connect({ overrides: { topology: "cluster", form: "async" } });
  try {
    await client.set("name", "async cluster");
    return await client.get("name");
  } finally {
    client.disconnect();
  }
}

if (require.main === module) {
  asyncCluster().then(console.log, (error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
