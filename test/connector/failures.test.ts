/**
 * Bad connections give a clear error within the configured bound, in both forms:
 * wrong password, wrong port (refused), a host that accepts but never answers, and a
 * server that stops mid-call (SIGSTOP).
 */
import { expect } from "chai";
import Redis, { Cluster } from "ioredis";
import {
  createClient,
  NotReadyError,
  waitUntilReady,
  type ConnectorClient,
  type ConnectorConfig,
  type DeepPartial,
} from "@redis-on-docker/connector";
import { findFreePorts } from "../../local/src/freePorts";
import { useLocalStack } from "../support/localStack";
import { OwnRedisServer } from "./support/ownRedis";
import { SHORT_BOUNDS, SLACK_MS, TIMEOUT_MS } from "./support/bounds";
import { asBehaviourClient, closeClient, modeConfig, modeName, MODES, type Mode } from "./support/modes";
import { silentPeer } from "./support/silentPeer";


interface Timed {
  error: Error;
  elapsedMs: number;
}

/**
 * Builds the client and runs one GET, returning the error and how long it took from
 * creation (the sync facade connects in createClient and may already throw there).
 */
async function failingGet(build: () => ConnectorClient): Promise<Timed> {
  const started = Date.now();
  try {
    await asBehaviourClient(build()).get("failures:key");
  } catch (error) {
    return { error: error as Error, elapsedMs: Date.now() - started };
  }
  throw new Error("GET should have failed");
}


describe("connector: bad connections fail clearly and in bounded time", function () {
  this.timeout(60_000);
  const stack = useLocalStack();
  const clients: ConnectorClient[] = [];
  const open = (config: ConnectorConfig): ConnectorClient => {
    const client = createClient(config);
    clients.push(client);
    return client;
  };
  afterEach(() => {
    for (const client of clients.splice(0)) closeClient(client);
  });

  for (const mode of MODES) {
    describe(modeName(mode), () => {
      it("wrong password: the server's auth error, within the bound", async () => {
        let client: ConnectorClient | undefined;
        const { error, elapsedMs } = await failingGet(() => (client = open(modeConfig(mode, stack().outputs, { ...SHORT_BOUNDS, password: "wrong password" }))));
        expect(elapsedMs).to.be.below(2 * TIMEOUT_MS + SLACK_MS);
        expect(error.message).not.to.include(stack().outputs.password);
        if (mode.topology === "standalone" || mode.form === "sync") {
          expect(error.message).to.match(/WRONGPASS|invalid password/);
        } else {
          expect(error.message).to.match(/WRONGPASS|invalid password|None of startup nodes|timed out|Failed to refresh/);
        }
        if (client instanceof Redis || client instanceof Cluster) {
          const notReady = await waitUntilReady(client, TIMEOUT_MS).then(() => undefined, (e: unknown) => e);
          expect(notReady).to.be.instanceOf(NotReadyError);
          expect((notReady as Error).message).to.match(/WRONGPASS|invalid password/).and.to.include("REDIS_PASSWORD");
        }
      });

      it("wrong port (nothing listening): a connection error, within the bound", async () => {
        const [port] = await findFreePorts(1, { withBusPort: false });
        const where: DeepPartial<ConnectorConfig> =
          mode.topology === "standalone" ? { standalone: { port } } : { cluster: { nodes: [{ host: "127.0.0.1", port }] } };
        const { error, elapsedMs } = await failingGet(() => open(modeConfig(mode, stack().outputs, { ...SHORT_BOUNDS, ...where })));
        expect(elapsedMs).to.be.below(2 * TIMEOUT_MS + SLACK_MS);
        expect(error.message).to.match(/ECONNREFUSED|max retries|timed out|None of startup nodes|Connection is closed|Could not connect/);
      });

      it("unresponsive host (accepts, never answers): a timeout, within the bound", async () => {
        const silent = await silentPeer();
        try {
          const where: DeepPartial<ConnectorConfig> =
            mode.topology === "standalone"
              ? { standalone: { port: silent.port } }
              : { cluster: { nodes: [{ host: "127.0.0.1", port: silent.port }] } };
          const { error, elapsedMs } = await failingGet(() => open(modeConfig(mode, stack().outputs, { ...SHORT_BOUNDS, ...where })));
          expect(elapsedMs).to.be.below(2 * TIMEOUT_MS + SLACK_MS);
          expect(error.message).to.match(/timed out|None of startup nodes|Failed to refresh|Could not connect .* within connectTimeoutMs/i);
        } finally {
          await silent.close();
        }
      });
    });
  }

  describe("a server that stops mid-call (SIGSTOP)", () => {
    let server: OwnRedisServer | undefined;
    before(async function () {
      this.timeout(20_000);
      server = await OwnRedisServer.start();
    });
    after(async () => {
      await server?.stop();
    });

    for (const form of ["async", "sync"] as const) {
      const mode: Mode = { topology: "standalone", form };
      it(`${modeName(mode)}: times out within the command timeout, then works again after SIGCONT`, async () => {
        const config = modeConfig(mode, stack().outputs, { ...SHORT_BOUNDS, password: "", standalone: { port: server?.port } });
        const client = open(config);
        const c = asBehaviourClient(client);
        expect(await c.set("stop:key", form)).to.equal("OK");
        server?.signal("SIGSTOP");
        try {
          const { error, elapsedMs } = await failingGet(() => client);
          expect(error.message).to.match(/timed out/i);
          expect(elapsedMs).to.be.within(TIMEOUT_MS - 100, TIMEOUT_MS + SLACK_MS);
        } finally {
          server?.signal("SIGCONT");
        }
        expect(await c.get("stop:key")).to.equal(form);
      });
    }
  });
});
