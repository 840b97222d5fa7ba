/**
 * The local runner's port choice: a node stopped for a restart must find its ports free
 * again. So client ports and cluster-bus ports (client + 10000) come from ranges that do not
 * overlap each other, and both lie below the ephemeral range that outgoing connections use.
 */
import fs from "node:fs";
import { expect } from "chai";
import { CLUSTER_BUS_PORT_OFFSET, findFreePorts } from "../../local/src/freePorts";

/** Linux's ephemeral port range (where outgoing connections get their local port), else macOS's default. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    return [low, high];
  } catch {
    return [49152, 65535];
  }
}

describe("local runner: free ports", function () {
  it("client ports and bus ports never overlap, and both stay below the ephemeral range", async function () {
    const [ephemeralLow] = ephemeralRange();
    const clients = await findFreePorts(60, { withBusPort: true });
    const buses = clients.map((p) => p + CLUSTER_BUS_PORT_OFFSET);
    expect(new Set(clients).size, "distinct").to.equal(clients.length);
    const lowestBus = 10_000 + CLUSTER_BUS_PORT_OFFSET;
    for (const port of clients) expect(port, "client port below every bus port").to.be.below(lowestBus);
    for (const bus of buses) expect(bus, `bus port below the ephemeral range (${ephemeralLow})`).to.be.below(ephemeralLow);
  });
});
