/**
 * Child-process side of `ForwarderGroup`: runs one TcpForwarder per target port. It lives
 * in its own process because a sync client blocks its caller's thread (Atomics.wait), and
 * forwarders on that thread's event loop could not pump its bytes.
 */
import { TcpForwarder } from "./forwarder";

type Request = { kind: "start"; targets: number[] } | { kind: "stats" };

let forwarders: TcpForwarder[] = [];

process.on("message", (request: Request) => {
  void (async () => {
    if (request.kind === "start") {
      forwarders = await Promise.all(request.targets.map((port) => new TcpForwarder(port).listen()));
      process.send?.({ kind: "started", ports: forwarders.map((f) => f.port) });
    } else {
      process.send?.({
        kind: "stats",
        accepted: forwarders.map((f) => f.accepted),
        outgoingPorts: forwarders.map((f) => [...f.outgoingPorts]),
        clientBytes: forwarders.map((f) => f.clientBytes),
      });
    }
  })();
});

// The parent going away (or disconnecting) ends the forwarders and this process.
process.on("disconnect", () => {
  void Promise.all(forwarders.map((f) => f.close())).then(() => process.exit(0));
});
