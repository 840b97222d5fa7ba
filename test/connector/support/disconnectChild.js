// Child of clientExit.test.ts: a connector cluster client in a process of its own, so the test
// can see whether the process exits once the client is disconnected. Config over IPC.
const { createClient, loadConfig, waitUntilReady } = require("@redis-on-docker/connector");

process.once("message", async ({ outputs }) => {
  const client = createClient(loadConfig({ outputs, env: {}, overrides: { topology: "cluster", form: "async" } }));
  client.on("error", () => undefined);
  await waitUntilReady(client, 5000);
  process.send({ type: "ready" });
  process.once("message", () => {
    client.disconnect();
    process.send({ type: "disconnected" });
    process.disconnect();
  });
});
