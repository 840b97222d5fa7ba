/**
 * natMap really used: the connector gets forwarder ports as seeds and a natMap from each
 * node's announced address to its forwarder, as a client on a Docker host does. Every
 * client connection that reaches a node must come through a forwarder.
 */
import { expect } from "chai";
import Redis from "ioredis";
import type { ConnectorClient, ConnectorConfig, Endpoint } from "@redis-on-docker/connector";
import { useLocalStack } from "../support/localStack";
import { ForwarderGroup } from "./support/forwarder";
import { asBehaviourClient, closeClient, modeConfig, modeName, openClient, type Mode } from "./support/modes";

const ADMIN_NAME = "natmap-test-admin";

interface ClientEntry {
  port: number;
  flags: string;
  name: string;
}

async function clientConnections(port: number, password: string): Promise<ClientEntry[]> {
  const admin = new Redis({ host: "127.0.0.1", port, password, connectionName: ADMIN_NAME, lazyConnect: true, commandTimeout: 5000 });
  try {
    await admin.connect();
    const list = (await admin.call("CLIENT", "LIST")) as string;
    return list.trim().split("\n").map((line) => {
      const fields = Object.fromEntries(line.split(" ").map((kv) => kv.split("=", 2) as [string, string]));
      return { port: Number(fields.addr.split(":").pop()), flags: fields.flags, name: fields.name };
    });
  } finally {
    admin.disconnect();
  }
}

describe("connector: natMap is applied (seeds via forwarders, nodes announce other addresses)", function () {
  this.timeout(60_000);
  const stack = useLocalStack();
  // In a child process: a sync client blocks this thread, so forwarders here could not pump its bytes.
  let forwarders: ForwarderGroup | undefined;

  beforeEach(async () => {
    forwarders = await ForwarderGroup.start(stack().nodes.filter((n) => n.role === "cluster").map((n) => n.port));
  });
  afterEach(async () => {
    await forwarders?.stop();
    forwarders = undefined;
  });

  function forwardedConfig(mode: Mode, natMap: boolean): ConnectorConfig {
    const group = forwarders as ForwarderGroup;
    const seeds: Endpoint[] = group.ports.map((port) => ({ host: "127.0.0.1", port }));
    const map = Object.fromEntries(group.targets.map((target, i) => [`127.0.0.1:${target}`, { host: "127.0.0.1", port: group.ports[i] }]));
    return modeConfig(mode, stack().outputs, { cluster: { nodes: seeds, natMap: natMap ? map : {} }, commandTimeoutMs: 5000 });
  }

  /** Client connections on every cluster node that did not come through a forwarder (replication links and the admin left out). */
  async function directConnections(): Promise<string[]> {
    const group = forwarders as ForwarderGroup;
    const forwarded = new Set((await group.stats()).outgoingPorts.flat());
    const direct: string[] = [];
    for (const target of group.targets) {
      for (const entry of await clientConnections(target, stack().outputs.password)) {
        if (entry.name === ADMIN_NAME || entry.flags.includes("S") || entry.flags.includes("M")) continue;
        if (!forwarded.has(entry.port)) direct.push(`node ${target} <- 127.0.0.1:${entry.port}`);
      }
    }
    return direct;
  }

  async function exerciseAllMasters(client: ConnectorClient, tag: string): Promise<void> {
    const c = asBehaviourClient(client);
    for (let i = 0; i < 30; i++) await c.set(`natmap:${tag}:${i}`, String(i));
    for (let i = 0; i < 30; i++) expect(await c.get(`natmap:${tag}:${i}`)).to.equal(String(i));
  }

  for (const form of ["async", "sync"] as const) {
    const mode: Mode = { topology: "cluster", form };
    it(`${modeName(mode)}: every node connection goes through a forwarder`, async () => {
      const client = await openClient(forwardedConfig(mode, true));
      try {
        await exerciseAllMasters(client, form);
        const used = (await (forwarders as ForwarderGroup).stats()).accepted.filter((n) => n > 0);
        expect(used.length, "forwarders used").to.be.at.least(3);
        expect(await directConnections()).to.deep.equal([]);
      } finally {
        closeClient(client);
      }
    });
  }

  it("control: without the natMap the async cluster client bypasses the forwarders (so the check above can fail)", async () => {
    const client = await openClient(forwardedConfig({ topology: "cluster", form: "async" }, false));
    try {
      await exerciseAllMasters(client, "control");
      expect(await directConnections()).not.to.deep.equal([]);
    } finally {
      closeClient(client);
    }
  });
});
