/**
 * The seed's `sync_singal`: a blocking client to the standalone server, no `await`.
 * Connection settings come only from REDIS_* env (see `redis-connector env`).
 */
import { createClient, loadConfig } from "@redis-on-docker/connector";

export function syncStandalone(): string | null {
  const client = createClient(loadConfig({ overrides: { topology: "standalone", form: "sync" } }));
  try {
    client.set("name", "sync singal");
    return client.get("name");
  } finally {
    client.close();
  }
}

if (require.main === module) console.log(syncStandalone());
