/**
 * Free TCP ports on loopback for the local runner. A cluster node needs two: its client
 * port and the cluster bus at port + 10000. Ports are only probed, not held, so another
 * process can still take one before redis-server binds it; the runner retries a node
 * whose process dies at start-up on fresh ports.
 */
import net from "node:net";

/** Redis Cluster's bus listens on the client port plus this offset. */
export const CLUSTER_BUS_PORT_OFFSET = 10000;

// Client ports 10000-19999, so bus ports are 20000-29999: the two ranges never overlap (a
// stack starting while another's node is down for a restart cannot take that node's client
// port as its bus port), and both lie below the ephemeral ranges of Linux (32768-60999) and
// macOS (49152-65535), so an outgoing connection cannot take a stopped node's port either.
const LOWEST_PORT = 10000;
const HIGHEST_PORT = 19999;
const MAX_ATTEMPTS = 200;

/** Whether `port` can be bound on `host` right now. */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface FindFreePortsOptions {
  /** Also require port + 10000 (the cluster bus) to be free. */
  withBusPort: boolean;
  /** Ports already handed out, with their bus ports when they have one; never returned again. */
  exclude?: Iterable<number>;
}

/**
 * Finds `count` distinct free ports on 127.0.0.1 (none of them equal to another's bus
 * port). Throws after a bounded number of attempts.
 */
export async function findFreePorts(count: number, options: FindFreePortsOptions): Promise<number[]> {
  const taken = new Set<number>(options.exclude ?? []);
  const found: number[] = [];
  // Which half of a candidate was taken: the error must name the range that is actually full.
  let busTaken = 0;
  for (let attempt = 0; found.length < count; attempt++) {
    if (attempt >= MAX_ATTEMPTS) {
      const lowBus = LOWEST_PORT + CLUSTER_BUS_PORT_OFFSET;
      const highBus = HIGHEST_PORT + CLUSTER_BUS_PORT_OFFSET;
      const where = busTaken * 2 > MAX_ATTEMPTS
        ? `: their cluster bus ports (client port + ${CLUSTER_BUS_PORT_OFFSET}, in ${lowBus}-${highBus}) were taken in ${busTaken} of ${MAX_ATTEMPTS} tries`
        : "";
      throw new Error(`no ${count} free port(s) on 127.0.0.1 in ${LOWEST_PORT}-${HIGHEST_PORT} after ${MAX_ATTEMPTS} attempts${where}`);
    }
    const port = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT + 1));
    const bus = port + CLUSTER_BUS_PORT_OFFSET;
    const needed = options.withBusPort ? [port, bus] : [port];
    if (taken.has(port) || !(await isPortFree(port))) continue;
    if (options.withBusPort && (taken.has(bus) || !(await isPortFree(bus)))) {
      busTaken++;
      continue;
    }
    for (const p of needed) taken.add(p);
    found.push(port);
  }
  return found;
}
