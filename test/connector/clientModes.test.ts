/**
 * One behaviour table, run in all four modes through `createClient`, against the local
 * runner's real servers (a standalone server and a 3-master/3-replica cluster, with a password).
 */
import { expect } from "chai";
import Redis, { Cluster } from "ioredis";
import type { ConnectorClient } from "@redis-on-docker/connector";
import { useLocalStack, type LocalStack } from "../support/localStack";
import { asBehaviourClient, closeClient, modeConfig, MODES, modeName, openClient, type BehaviourClient, type Mode } from "./support/modes";

interface Behaviour {
  name: string;
  /** Only in this topology (both forms). */
  only?: Mode["topology"];
  run(client: BehaviourClient, context: { stack: LocalStack; mode: Mode; prefix: string }): Promise<void>;
}

/** Which master (client port) owns each key, asked of the cluster itself. */
async function mastersOwning(stack: LocalStack, keys: string[]): Promise<Map<string, number>> {
  const seed = stack.outputs.cluster.seeds[0];
  const direct = new Redis({ host: seed.host, port: seed.port, password: stack.outputs.password, lazyConnect: true, commandTimeout: 5000 });
  try {
    await direct.connect();
    const slots = (await direct.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
    const owners = new Map<string, number>();
    for (const key of keys) {
      const slot = (await direct.call("CLUSTER", "KEYSLOT", key)) as number;
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      if (range === undefined) throw new Error(`slot ${slot} has no owner`);
      owners.set(key, range[2][1]);
    }
    return owners;
  } finally {
    direct.disconnect();
  }
}

const BEHAVIOURS: Behaviour[] = [
  {
    name: "SET/GET a string (non-ASCII too)",
    async run(c, { prefix }) {
      const value = `${prefix} – ünïcödé ✓`;
      expect(await c.set(`${prefix}:str`, value)).to.equal("OK");
      expect(await c.get(`${prefix}:str`)).to.equal(value);
      expect(await c.get(`${prefix}:absent`)).to.equal(null);
    },
  },
  {
    name: "SET/GET a Buffer with every byte value",
    async run(c, { prefix }) {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await c.set(`${prefix}:buf`, bytes);
      const back = await c.getBuffer(`${prefix}:buf`);
      expect(Buffer.isBuffer(back)).to.equal(true);
      expect(back?.equals(bytes)).to.equal(true);
    },
  },
  {
    name: "many keys: all written and read back (in a cluster, spread over all three masters)",
    async run(c, { stack, mode, prefix }) {
      const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:spread:${i}`);
      for (const key of keys) await c.set(key, `v-${key}`);
      for (const key of keys) expect(await c.get(key)).to.equal(`v-${key}`);
      if (mode.topology === "cluster") {
        const owners = await mastersOwning(stack, keys);
        expect(new Set(owners.values()).size).to.equal(3);
        // Each key really sits on its owner: read it there, with no redirection.
        for (const port of new Set(owners.values())) {
          const direct = new Redis({ host: "127.0.0.1", port, password: stack.outputs.password, commandTimeout: 5000, lazyConnect: true });
          try {
            await direct.connect();
            const mine = keys.filter((k) => owners.get(k) === port);
            for (const key of mine) expect(await direct.get(key)).to.equal(`v-${key}`);
          } finally {
            direct.disconnect();
          }
        }
      }
    },
  },
  {
    name: "hash tags: multi-key commands on one slot (MSET, MGET, DEL)",
    async run(c, { prefix }) {
      const keys = ["a", "b", "c"].map((k) => `{${prefix}:user}:${k}`);
      expect(await c.mset(keys[0], "1", keys[1], "2", keys[2], "3")).to.equal("OK");
      expect(await c.mget(...keys)).to.deep.equal(["1", "2", "3"]);
      expect(await c.del(...keys)).to.equal(3);
      expect(await c.mget(...keys)).to.deep.equal([null, null, null]);
    },
  },
  {
    name: "CROSSSLOT: a multi-key command over two slots fails with the server's error",
    only: "cluster",
    async run(c, { prefix }) {
      const keys = [`${prefix}:x`, `${prefix}:y:other`];
      const error = await captureError(() => c.mget(...keys));
      expect(error.message).to.match(/^CROSSSLOT/);
    },
  },
  {
    name: "a Redis error is surfaced with its message",
    async run(c, { prefix }) {
      await c.set(`${prefix}:text`, "not a number");
      const error = await captureError(() => c.incr(`${prefix}:text`));
      expect(error.name).to.equal("ReplyError");
      expect(error.message).to.match(/ERR value is not an integer/);
    },
  },
];

async function captureError(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the command to fail");
}

describe("connector: the four client modes against the local runner", function () {
  this.timeout(60_000);
  const stack = useLocalStack();

  for (const mode of MODES) {
    describe(modeName(mode), () => {
      let client: ConnectorClient | undefined;
      before(async function () {
        this.timeout(20_000);
        client = await openClient(modeConfig(mode, stack().outputs, { commandTimeoutMs: 5000, connectTimeoutMs: 5000 }));
      });
      after(() => closeClient(client));

      it("createClient returns the type the mode asks for", () => {
        if (mode.form === "async") {
          expect(client).to.be.instanceOf(mode.topology === "cluster" ? Cluster : Redis);
        } else {
          expect(client).not.to.be.instanceOf(Redis);
          expect(client).not.to.be.instanceOf(Cluster);
          expect(typeof (client as { close?: unknown }).close).to.equal("function");
        }
      });

      for (const behaviour of BEHAVIOURS) {
        if (behaviour.only !== undefined && behaviour.only !== mode.topology) continue;
        it(behaviour.name, async () => {
          const prefix = `${mode.form}-${mode.topology}`;
          await behaviour.run(asBehaviourClient(client as ConnectorClient), { stack: stack(), mode, prefix });
        });
      }
    });
  }
});
