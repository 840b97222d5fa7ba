/**
 * A username must never reach a Redis without ACL users (Redis 5). The only binaries here
 * are Redis 7, so a "no ACL" server is a real redis-server with HELLO disabled
 * (`rename-command HELLO ""`): it answers HELLO exactly as Redis 5 does (unknown command).
 */
import { expect } from "chai";
import Redis from "ioredis";
import { ConfigError, connect, serverHasAcl } from "@redis-on-docker/connector";
import { OwnRedisServer } from "./support/ownRedis";

const PASSWORD = "user test pw";

async function authCalls(port: number): Promise<number> {
  const admin = new Redis({ port, host: "127.0.0.1", password: PASSWORD, lazyConnect: true, commandTimeout: 2000 });
  try {
    await admin.connect();
    const stats = (await admin.info("commandstats")).split("\r\n").find((l) => l.startsWith("cmdstat_auth:"));
    return stats === undefined ? 0 : Number(/calls=(\d+)/.exec(stats)?.[1] ?? 0);
  } finally {
    admin.disconnect();
  }
}

describe("connector: username vs servers without ACL users", function () {
  this.timeout(30_000);
  let noAcl: OwnRedisServer | undefined;
  let withAcl: OwnRedisServer | undefined;

  before(async () => {
    noAcl = await OwnRedisServer.start(['rename-command HELLO ""'], PASSWORD);
    withAcl = await OwnRedisServer.start([], PASSWORD);
  });
  after(async () => {
    await noAcl?.stop();
    await withAcl?.stop();
  });

  it("probes ACL support without credentials", async () => {
    expect(await serverHasAcl({ host: "127.0.0.1", port: withAcl!.port }, false, 2000)).to.equal(true);
    expect(await serverHasAcl({ host: "127.0.0.1", port: noAcl!.port }, false, 2000)).to.equal(false);
  });

  it("connect() refuses the username with a ConfigError naming REDIS_USERNAME, and sends no AUTH", async () => {
    const env = { REDIS_PORT: String(noAcl!.port), REDIS_PASSWORD: PASSWORD, REDIS_USERNAME: "default" };
    const authBefore = await authCalls(noAcl!.port);
    const error = await connect({ env }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).envVar).to.equal("REDIS_USERNAME");
    expect((error as Error).message).to.match(/no ACL users/).and.not.to.include(PASSWORD);
    // Only the second admin connection's own AUTH was added.
    expect(await authCalls(noAcl!.port)).to.equal(authBefore + 1);
  });

  it("with ACLs, connect() sends the username and works", async () => {
    const env = { REDIS_PORT: String(withAcl!.port), REDIS_PASSWORD: PASSWORD, REDIS_USERNAME: "default" };
    const client = await connect({ env, overrides: { form: "async", topology: "standalone" } });
    try {
      expect(await client.call("ACL", "WHOAMI")).to.equal("default");
    } finally {
      client.disconnect();
    }
  });
});
