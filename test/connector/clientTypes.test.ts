/**
 * `createClient`'s return type follows the config (checked by `tsc` over this file), and
 * at run time the async forms are ioredis's own instances, not wrappers.
 */
import { expect } from "chai";
import Redis, { Cluster } from "ioredis";
import { inspect } from "node:util";
import { createClient, loadConfig, type ConnectorClient } from "@redis-on-docker/connector";

describe("createClient: types and identity", () => {
  // A port nothing listens on: the clients are closed before they could connect anyway.
  const env = { REDIS_PORT: "1", REDIS_CLUSTER_NODES: "127.0.0.1:1", REDIS_PASSWORD: "type-test-secret" };

  it("async standalone is an ioredis Redis, async cluster an ioredis Cluster (statically and at run time)", () => {
    const standalone: Redis = createClient(loadConfig({ env, overrides: { topology: "standalone", form: "async" } }));
    const cluster: Cluster = createClient(loadConfig({ env, overrides: { topology: "cluster", form: "async" } }));
    try {
      expect(Object.getPrototypeOf(standalone)).to.equal(Redis.prototype);
      expect(Object.getPrototypeOf(cluster)).to.equal(Cluster.prototype);
      // @ts-expect-error a cluster config does not give a Redis
      const wrong: Redis = cluster;
      expect(wrong).to.equal(cluster);
    } finally {
      standalone.disconnect();
      cluster.disconnect();
    }
  });

  it("a config whose form is only known at run time gives the union", () => {
    const client: ConnectorClient = createClient(loadConfig({ env: { ...env, REDIS_FORM: "async" } }));
    try {
      expect(client).to.be.instanceOf(Redis);
    } finally {
      (client as Redis).disconnect();
    }
  });

  it("inspecting a client does not print its options (they hold the password)", () => {
    const client = createClient(loadConfig({ env, overrides: { topology: "standalone", form: "async" } }));
    const cluster = createClient(loadConfig({ env, overrides: { topology: "cluster", form: "async" } }));
    try {
      for (const c of [client, cluster]) {
        expect(inspect(c, { depth: 10 })).not.to.include("type-test-secret");
      }
    } finally {
      client.disconnect();
      cluster.disconnect();
    }
  });
});
