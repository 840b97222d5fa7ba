/**
 * A TCP forwarder on a fresh 127.0.0.1 port that pipes every connection to a target port,
 * counting connections and remembering the local ports of its outgoing sockets (so a
 * server's CLIENT LIST can tell forwarded connections from direct ones).
 */
import net from "node:net";

/** Cap on the client bytes a forwarder keeps for inspection. */
const CLIENT_BYTES_KEPT = 256 * 1024;

export class TcpForwarder {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far. */
  accepted = 0;
  /** Local ports of the sockets this forwarder opened to the target. */
  readonly outgoingPorts = new Set<number>();
  /** What clients sent towards the target (latin1), the first CLIENT_BYTES_KEPT bytes. */
  clientBytes = "";
  port = 0;

  constructor(readonly targetPort: number, readonly targetHost = "127.0.0.1") {
    this.server = net.createServer((incoming) => {
      this.accepted += 1;
      const outgoing = net.connect({ host: this.targetHost, port: this.targetPort });
      outgoing.on("connect", () => {
        if (outgoing.localPort !== undefined) this.outgoingPorts.add(outgoing.localPort);
      });
      for (const socket of [incoming, outgoing]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          incoming.destroy();
          outgoing.destroy();
        });
      }
      incoming.on("data", (chunk: Buffer) => {
        if (this.clientBytes.length < CLIENT_BYTES_KEPT) this.clientBytes += chunk.toString("latin1");
      });
      incoming.pipe(outgoing);
      outgoing.pipe(incoming);
      incoming.on("close", () => outgoing.destroy());
      outgoing.on("close", () => incoming.destroy());
    });
  }

  listen(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: "127.0.0.1", port: 0 }, () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this);
      });
    });
  }

  /** Stops listening and cuts every open connection. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface ForwarderStats {
  /** Connections accepted, per forwarder. */
  accepted: number[];
  /** Local ports of each forwarder's outgoing sockets. */
  outgoingPorts: number[][];
  /** What clients sent through each forwarder (latin1, capped). */
  clientBytes: string[];
}

/** Forwarders for several target ports, run in a child process (see forwarderProcess.ts). */
export class ForwarderGroup {
  private constructor(
    private readonly child: import("node:child_process").ChildProcess,
    readonly targets: number[],
    readonly ports: number[],
  ) {}

  static async start(targets: number[], timeoutMs = 15_000): Promise<ForwarderGroup> {
    const { fork } = await import("node:child_process");
    const child = fork(require.resolve("./forwarderProcess"), [], {
      execArgv: ["-r", require.resolve("ts-node/register/transpile-only")],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    try {
      const reply = await ask<{ ports: number[] }>(child, { kind: "start", targets }, timeoutMs);
      return new ForwarderGroup(child, targets, reply.ports);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  stats(timeoutMs = 5000): Promise<ForwarderStats> {
    return ask<ForwarderStats>(this.child, { kind: "stats" }, timeoutMs);
  }

  /** Ends the child (and every forwarded connection); bounded, SIGKILL as the last resort. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function ask<T>(child: import("node:child_process").ChildProcess, request: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off("message", onMessage);
      reject(new Error(`forwarder process did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: T): void => {
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(message);
    };
    child.on("message", onMessage);
    child.send(request);
  });
}
