/**
 * A TCP forwarder on 127.0.0.1 between a client and one redis-server, with faults on demand:
 * stop forwarding (the client's writes pile up in kernel buffers until they block), cut the
 * client's connection after some bytes of replies, or drop the reply of the next request
 * (the server ran it; the client sees its connection close). Every connection it accepts
 * is its own pair of sockets; `close()` ends them all and the listener.
 *
 * It runs in a worker thread of its own: a sync client blocks the test's thread for the
 * whole call, and the faults must happen during it. `FaultProxy` is the test's handle.
 */
import net from "node:net";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

class ProxyCore {
  private readonly pairs = new Set<Pair>();
  private paused = false;
  /** Reply bytes still to forward before the client's connection is cut (undefined: no cut armed). */
  private cutAfter: number | undefined;
  private dropNextReply = false;
  /** Connections accepted so far (a reconnect shows as a new one). */
  accepted = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<ProxyCore> {
    // eslint-disable-next-line prefer-const -- set once the server listens; a connection before that finds none
    let proxy: ProxyCore | undefined;
    const server = net.createServer((client) => proxy?.accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    proxy = new ProxyCore(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  private accept(client: net.Socket, target: { host: string; port: number }): void {
    this.accepted++;
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    // The client's side closing: what it sent still reaches the server (a server reads what
    // arrived before a client's FIN), then the server sees the end. The server's side closing: the client's too.
    const clientGone = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.end();
    };
    const upstreamGone = (): void => {
      this.pairs.delete(pair);
      upstream.destroy();
      client.destroy();
    };
    client.on("error", clientGone);
    client.on("close", clientGone);
    upstream.on("error", upstreamGone);
    upstream.on("close", upstreamGone);
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => this.reply(pair, chunk));
    if (this.paused) {
      client.pause();
      upstream.pause();
    }
  }

  private reply(pair: Pair, chunk: Buffer): void {
    if (this.dropNextReply) {
      this.dropNextReply = false;
      // The server ran the request; the client never sees the answer, only its connection closing.
      pair.client.destroy();
      return;
    }
    if (this.cutAfter !== undefined) {
      if (chunk.length < this.cutAfter) {
        this.cutAfter -= chunk.length;
        pair.client.write(chunk);
        return;
      }
      const head = chunk.subarray(0, this.cutAfter);
      this.cutAfter = undefined;
      pair.client.end(head, () => pair.client.destroy());
      return;
    }
    pair.client.write(chunk);
  }

  /** Stops reading from both sides: requests and replies wait in kernel buffers. */
  pause(): void {
    this.paused = true;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream.pause();
    }
  }

  resume(): void {
    this.paused = false;
    for (const { client, upstream } of this.pairs) {
      client.resume();
      upstream.resume();
    }
  }

  /** Forwards `bytes` more reply bytes, then closes the client's connection (mid-reply). */
  cutRepliesAfter(bytes: number): void {
    this.cutAfter = bytes;
  }

  /** The next reply chunk is dropped and the client's connection closed. */
  dropReplyOfNextRequest(): void {
    this.dropNextReply = true;
  }

  /** Closes every client connection now (as a server restart or a network drop would). */
  dropConnections(): void {
    for (const { client } of this.pairs) client.destroy();
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

type Op = "pause" | "resume" | "cutRepliesAfter" | "dropReplyOfNextRequest" | "dropConnections" | "accepted" | "close";
interface Request {
  id: number;
  op: Op;
  arg?: number;
}

/** The test's handle on a proxy running in its own thread. Every method waits for the proxy's acknowledgement. */
export class FaultProxy {
  private nextId = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
  ) {
    worker.on("message", (msg: { id: number; value: unknown }) => {
      this.waiting.get(msg.id)?.(msg.value);
      this.waiting.delete(msg.id);
    });
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const worker = new Worker(__filename, {
      workerData: { faultProxyTarget: target },
      execArgv: ["-r", "ts-node/register/transpile-only"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("fault proxy did not start within 20 s")), 20_000);
      worker.once("error", reject);
      worker.once("message", (msg: { port: number }) => {
        clearTimeout(timer);
        resolve(msg.port);
      });
    });
    return new FaultProxy(worker, port);
  }

  private ask(op: Op, arg?: number): Promise<unknown> {
    const id = ++this.nextId;
    const request: Request = { id, op, arg };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fault proxy: no answer to ${op}`)), 5000);
      this.waiting.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      this.worker.postMessage(request);
    });
  }

  /** Stops forwarding both ways: what the client writes piles up until its writes block. */
  async pause(): Promise<void> {
    await this.ask("pause");
  }

  async resume(): Promise<void> {
    await this.ask("resume");
  }

  /** Forwards `bytes` more reply bytes, then closes the client's connection (mid-reply). */
  async cutRepliesAfter(bytes: number): Promise<void> {
    await this.ask("cutRepliesAfter", bytes);
  }

  /** The next reply is dropped and the client's connection closed: the server ran the request. */
  async dropReplyOfNextRequest(): Promise<void> {
    await this.ask("dropReplyOfNextRequest");
  }

  /** Closes every client connection now (as a server restart or a network drop would). */
  async dropConnections(): Promise<void> {
    await this.ask("dropConnections");
  }

  /** Connections accepted so far (a reconnect shows as a new one). */
  async accepted(): Promise<number> {
    return (await this.ask("accepted")) as number;
  }

  async close(): Promise<void> {
    try {
      await this.ask("close");
    } finally {
      await this.worker.terminate();
    }
  }
}

if (!isMainThread && (workerData as { faultProxyTarget?: unknown } | null)?.faultProxyTarget !== undefined) {
  const port = parentPort as NonNullable<typeof parentPort>;
  void ProxyCore.start((workerData as { faultProxyTarget: { host: string; port: number } }).faultProxyTarget).then((core) => {
    port.postMessage({ port: core.port });
    port.on("message", (request: Request) => {
      const done = (value: unknown = null): void => port.postMessage({ id: request.id, value });
      switch (request.op) {
        case "pause":
          core.pause();
          return done();
        case "resume":
          core.resume();
          return done();
        case "cutRepliesAfter":
          core.cutRepliesAfter(request.arg ?? 0);
          return done();
        case "dropReplyOfNextRequest":
          core.dropReplyOfNextRequest();
          return done();
        case "dropConnections":
          core.dropConnections();
          return done();
        case "accepted":
          return done(core.accepted);
        case "close":
          void core.close().then(() => done());
          return;
      }
    });
  });
}
