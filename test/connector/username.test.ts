/**
 * A username must never reach a Redis without ACL users (Redis 5). The connector tells the
 * two kinds apart by the server's answer to `HELLO 2`. These tests use no Redis 6/7 feature
 * to set anything up: what the server at hand can do is read from the server itself
 * (`INFO server` -> redis_version, an oracle independent of the HELLO probe), and the
 * expectation follows from it. The machines here run Redis 7 (ACL users); where the
 * machine's redis-server is 5.x the other branch runs. The product's Redis 5 path is also
 * covered through Redis 5.0.4's own reply texts (src/server.c, processCommand), fed to the
 * same functions the live client uses.
 */
import { expect } from "chai";
import net from "node:net";
import Redis, { ReplyError } from "ioredis";
import {
  ConfigError,
  connect,
  createClient,
  explainConnectionError,
  helloReplyShowsAcl,
  loadConfig,
  NotReadyError,
  serverHasAcl,
  waitUntilReady,
} from "@redis-on-docker/connector";
import { translateCommandError } from "@redis-on-docker/connector/dist/client/commandErrors";
import { isFinalStartupError } from "@redis-on-docker/connector/dist/client/connectionErrors";
import { OwnRedisServer } from "./support/ownRedis";

const PASSWORD = "user test pw";
/** Redis 5.0.4's reply to `HELLO 2` (processCommand: unknown command). */
const REDIS5_HELLO_REPLY = "-ERR unknown command `HELLO`, with args beginning with: `2`, ";
/** Redis 5.0.4's reply to `AUTH <username> <password>` (processCommand: arity of AUTH is 2). */
const REDIS5_AUTH_WITH_USERNAME = "ERR wrong number of arguments for 'auth' command";

async function withAdmin<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const admin = new Redis({ port, host: "127.0.0.1", password: PASSWORD, lazyConnect: true, commandTimeout: 2000, retryStrategy: () => null });
  try {
    await admin.connect();
    return await use(admin);
  } finally {
    admin.disconnect();
  }
}

/** The oracle: the server's own version (ACL users exist since Redis 6.0). */
async function serverMajorVersion(port: number): Promise<number> {
  const info = await withAdmin(port, (r) => r.info("server"));
  return Number(/redis_version:(\d+)\./.exec(info)?.[1]);
}

async function authCalls(port: number): Promise<number> {
  return withAdmin(port, async (admin) => {
    const stats = (await admin.info("commandstats")).split("\r\n").find((l) => l.startsWith("cmdstat_auth:"));
    return stats === undefined ? 0 : Number(/calls=(\d+)/.exec(stats)?.[1] ?? 0);
  });
}

/** The first line the server answers to `HELLO 2` without credentials, read with a raw socket (bounded). */
function rawHelloReply(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no reply to HELLO within 2 s"));
    }, 2000);
    socket.once("connect", () => socket.write("*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      const end = reply.indexOf("\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply.slice(0, end));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe("connector: username vs servers with and without ACL users", function () {
  this.timeout(30_000);
  let server: OwnRedisServer | undefined;
  let hasAcl = false;
  const port = (): number => (server as OwnRedisServer).port;

  before(async () => {
    server = await OwnRedisServer.start([], PASSWORD);
    hasAcl = (await serverMajorVersion(port())) >= 6;
  });
  after(async () => {
    await server?.stop();
  });

  it("reads HELLO's answer: the live server's as its version says, Redis 5.0.4's as no ACL users", async () => {
    expect(helloReplyShowsAcl(await rawHelloReply(port())), "live server").to.equal(hasAcl);
    expect(await serverHasAcl({ host: "127.0.0.1", port: port() }, false, 2000), "probe of the live server").to.equal(hasAcl);
    expect(helloReplyShowsAcl(REDIS5_HELLO_REPLY), "Redis 5.0.4's reply").to.equal(false);
    expect(helloReplyShowsAcl("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")).to.equal(true);
  });

  it("connect() with a username: sent where the server has ACL users; else a ConfigError naming REDIS_USERNAME, and no AUTH sent", async () => {
    const env = { REDIS_PORT: String(port()), REDIS_PASSWORD: PASSWORD, REDIS_USERNAME: "default" };
    const authBefore = await authCalls(port());
    const outcome = await connect({ env, overrides: { form: "async", topology: "standalone" } }).then(
      async (client) => {
        try {
          return { whoami: await client.call("ACL", "WHOAMI") };
        } finally {
          client.disconnect();
        }
      },
      (error: unknown) => ({ error }),
    );
    if (hasAcl) {
      expect(outcome).to.deep.equal({ whoami: "default" });
    } else {
      const { error } = outcome as { error: unknown };
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).envVar).to.equal("REDIS_USERNAME");
      expect((error as Error).message).to.match(/no ACL users/).and.not.to.include(PASSWORD);
      // Only the admin connection's own AUTH was added.
      expect(await authCalls(port())).to.equal(authBefore + 1);
    }
  });

  it("createClient() (no probe) with a username the server refuses, right password: fails at once naming REDIS_USERNAME, never \"set REDIS_PASSWORD\"", async () => {
    // With ACL users: a user that does not exist. Without: any username.
    const config = { REDIS_PORT: String(port()), REDIS_PASSWORD: PASSWORD, REDIS_CONNECT_TIMEOUT_MS: "3000" };
    const client = createClient({ ...loadConfig({ env: { ...config, REDIS_USERNAME: hasAcl ? "no-such-user" : "default" } }), form: "async" as const });
    const started = Date.now();
    const error = await waitUntilReady(client, 3000).then(() => undefined, (e: unknown) => e);
    client.disconnect();
    expect(error).to.be.instanceOf(NotReadyError);
    expect(Date.now() - started, "at once, not after the connect timeout").to.be.below(1500);
    const message = (error as Error).message;
    expect(message).not.to.include("set REDIS_PASSWORD");
    expect(message).to.match(hasAcl ? /WRONGPASS.*REDIS_USERNAME/ : /REDIS_USERNAME empty/);
  });

  it("Redis 5's answer to AUTH <username> <password> becomes a final error naming REDIS_USERNAME, not \"NOAUTH ... set REDIS_PASSWORD\"", () => {
    // What the live client's AUTH command gets from a Redis 5 server, through the same translation.
    const translated = translateCommandError(new ReplyError(REDIS5_AUTH_WITH_USERNAME), "auth", 5000, true);
    expect(translated).to.be.instanceOf(ReplyError);
    // ioredis only logs (console.warn) an AUTH error holding this text, and the client then fails
    // with NOAUTH on every command; without it, ioredis reports the error as the connection error.
    expect(translated.message).not.to.include("wrong number of arguments for 'auth' command");
    expect(translated.message).to.include("leave REDIS_USERNAME empty");
    expect(isFinalStartupError(translated), "ends a connect wait at once").to.equal(true);
    const explained = explainConnectionError(translated);
    expect(explained).to.include("REDIS_USERNAME").and.not.to.include("set REDIS_PASSWORD");
    // The same arity text for another command is not about usernames.
    expect(translateCommandError(new ReplyError("ERR wrong number of arguments for 'get' command"), "get", 5000, true).message).to.equal(
      "ERR wrong number of arguments for 'get' command",
    );
  });
});
