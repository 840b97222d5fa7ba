/**
 * The seed's `async_singal`: ioredis `Redis` with promises. Connection settings come only
 * from REDIS_* env; `connect` waits (bounded) until the client is ready.
 */
import { connect } from "@redis-on-docker/connector";

export async function asyncStandalone(): Promise<string | null> {
  const client = await connect({ overrides: { topology: "standalone", form: "async" } });
  try {
    await client.set("name", "async singal");
    return await client.get("name");
  } finally {
    client.disconnect();
  }
}

if (require.main === module) {
  asyncStandalone().then(console.log, (error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
