/**
 * Refuses a username for a server without ACL users (Redis < 6) before any AUTH is sent:
 * a clear error naming REDIS_USERNAME instead of an opaque AUTH failure.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { ConnectorConfig } from "../config/types";
import type { Endpoint } from "../endpoint";
import { ConfigError } from "../errors";

// `HELLO 2` without credentials: Redis 6+ answers (or says NOAUTH); Redis 5 does not know HELLO.
const HELLO_2 = "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n";

/**
 * Reads the first line of a server's reply to `HELLO 2` (sent without credentials): Redis 6+
 * answers with the HELLO map, or `-NOAUTH` when a password is required; Redis 5 does not know
 * HELLO (`-ERR unknown command \`HELLO\`, with args beginning with: \`2\`, `).
 */
export function helloReplyShowsAcl(firstLine: string): boolean {
  return !/^-ERR unknown command/i.test(firstLine);
}

/** Whether the server at `endpoint` has ACL users (Redis 6+). Bounded by `timeoutMs`. */
export function serverHasAcl(endpoint: Endpoint, tls: boolean, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const socket: Socket = tls
      ? tlsConnect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false })
      : netConnect({ host: endpoint.host, port: endpoint.port });
    let reply = "";
    const finish = (error: Error | undefined, hasAcl?: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(hasAcl === true);
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer from ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once(tls ? "secureConnect" : "connect", () => socket.write(HELLO_2));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      const lineEnd = reply.indexOf("\r\n");
      if (lineEnd < 0) return;
      const first = reply.slice(0, lineEnd);
      finish(undefined, helloReplyShowsAcl(first));
    });
    socket.on("error", (error) => finish(new Error(`cannot reach ${endpoint.host}:${endpoint.port}: ${error.message}`)));
    socket.on("close", () => finish(new Error(`${endpoint.host}:${endpoint.port} closed the connection`)));
  });
}

/**
 * Throws a ConfigError naming REDIS_USERNAME when a username is configured and the server
 * (the standalone server, or the first cluster seed) has no ACL users. No-op without a username.
 */
export async function assertUsernameSupported(config: ConnectorConfig): Promise<void> {
  if (config.username === "") return;
  const endpoint = config.topology === "standalone" ? config.standalone : config.cluster.nodes[0];
  const hasAcl = await serverHasAcl(endpoint, config.tls, config.connectTimeoutMs);
  if (!hasAcl) {
    throw new ConfigError("username", "REDIS_USERNAME", `server ${endpoint.host}:${endpoint.port}`,
      "this server has no ACL users (Redis < 6, e.g. 5.0.4), so a username cannot be sent; leave REDIS_USERNAME empty");
  }
}
