/**
 * Pins the Node internals the sync client's fast lane relies on (connector/src/sync/
 * socketHandle.ts): a connected TCP socket's `_handle` has a numeric `fd` that fs.readSync /
 * fs.writeSync can use from the same process, it is non-blocking (EAGAIN when empty), and
 * `readStop()` / `readStart()` hand reading over and back. If a Node version changes any of
 * this, this test fails loudly; the client then keeps every call on the worker path, which
 * the last test checks.
 */
import fs from "node:fs";
import net from "node:net";
import { expect } from "chai";
import { pauseReading, resumeReading, usableHandle } from "../../connector/src/sync/socketHandle";

async function connectedPair(): Promise<{ server: net.Server; local: net.Socket; remote: net.Socket }> {
  const server = net.createServer();
  const remote = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const local = net.connect({ host: "127.0.0.1", port });
  await new Promise((resolve) => local.once("connect", resolve));
  return { server, local, remote: await remote };
}

function readWithin(fd: number, ms: number): Buffer {
  const buffer = Buffer.alloc(1024);
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, null));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      if (Date.now() > deadline) throw new Error(`nothing to read on fd ${fd} within ${ms} ms`);
    }
  }
}

describe(`sync fast lane: the Node internals it uses (node ${process.version})`, function () {
  this.timeout(10_000);

  it("a TCP socket's _handle has an fd, readStop/readStart, reading; fs I/O on the fd works while reading is stopped", async () => {
    const { server, local, remote } = await connectedPair();
    try {
      const handle = usableHandle(local);
      expect(handle, `net.Socket._handle shape changed in Node ${process.version}: the fast lane is off`).to.not.equal(undefined);
      if (handle === undefined) return;
      expect(handle.fd).to.be.a("number").and.to.be.above(2);
      const seen: Buffer[] = [];
      local.on("data", (chunk: Buffer) => seen.push(chunk));
      expect(pauseReading(handle)).to.equal(true);
      expect(handle.reading).to.equal(false);

      // Non-blocking: nothing to read is EAGAIN, not a blocked thread.
      expect(() => fs.readSync(handle.fd, Buffer.alloc(16), 0, 16, null)).to.throw().with.property("code", "EAGAIN");
      expect(fs.writeSync(handle.fd, Buffer.from("ping"))).to.equal(4);
      const atRemote = await new Promise<Buffer>((resolve) => remote.once("data", resolve));
      expect(atRemote.toString()).to.equal("ping");
      remote.write("pong");
      expect(readWithin(handle.fd, 2000).toString()).to.equal("pong");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen, "the event loop must not read while reading is stopped").to.have.length(0);

      // Handed back: the socket's own 'data' events carry on.
      resumeReading(handle);
      remote.write("again");
      await new Promise((resolve) => local.once("data", resolve));
      expect(Buffer.concat(seen).toString()).to.equal("again");
    } finally {
      local.destroy();
      remote.destroy();
      server.close();
    }
  });

  it("a socket without that shape is not used (the worker path serves it)", () => {
    expect(usableHandle(undefined)).to.equal(undefined);
    const socket = new net.Socket();
    expect(usableHandle(socket), "an unconnected socket has no handle").to.equal(undefined);
    const fake = { _handle: { fd: -1, readStop: () => 0, readStart: () => 0, reading: true } };
    expect(usableHandle(fake as unknown as net.Socket)).to.equal(undefined);
    const noStop = { _handle: { fd: 12, readStart: () => 0, reading: true } };
    expect(usableHandle(noStop as unknown as net.Socket)).to.equal(undefined);
  });
});
