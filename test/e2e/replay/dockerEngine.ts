/**
 * A small client of the Docker Engine API over its unix socket. The replay calls the same
 * endpoints, with the same payloads, as the Pulumi Docker provider's Go client does
 * (ContainerCreate, NetworkConnect, CopyToContainer, ContainerStart, ContainerWait, ...).
 * The docker CLI cannot express some of them (exec-form healthchecks, a tar upload before
 * start), and a dependency such as dockerode is not needed for a dozen calls.
 * Every request has a bound.
 */
import * as http from "node:http";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** A non-2xx answer from the engine, with its message. */
export class DockerApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number,
    readonly engineMessage: string,
  ) {
    super(`Docker API ${method} ${path.split("?")[0]} -> ${statusCode}: ${engineMessage}`);
    this.name = "DockerApiError";
  }
}

export interface DockerRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  /** JSON-serialised unless a Buffer (sent as `application/x-tar`). */
  body?: unknown;
  timeoutMs: number;
}

export class DockerEngine {
  constructor(readonly socketPath: string = process.env.DOCKER_SOCKET ?? DEFAULT_DOCKER_SOCKET) {}

  /** Raw response body; throws DockerApiError on a non-2xx status and a plain Error on timeout. */
  requestRaw(req: DockerRequest): Promise<{ statusCode: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const isTar = Buffer.isBuffer(req.body);
      const payload = req.body === undefined ? undefined : isTar ? (req.body as Buffer) : Buffer.from(JSON.stringify(req.body));
      const r = http.request(
        {
          socketPath: this.socketPath,
          method: req.method,
          path: req.path,
          headers: payload
            ? { "Content-Type": isTar ? "application/x-tar" : "application/json", "Content-Length": payload.length }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            clearTimeout(timer);
            const body = Buffer.concat(chunks);
            const statusCode = res.statusCode ?? 0;
            // As the Go client (checkResponseErr): 3xx is no error, e.g. 304 for stopping a stopped container.
            if (statusCode < 200 || statusCode >= 400) {
              let message = body.toString("utf8").trim();
              try {
                message = (JSON.parse(message) as { message?: string }).message ?? message;
              } catch {
                /* not JSON: keep the text */
              }
              reject(new DockerApiError(req.method, req.path, statusCode, message));
              return;
            }
            resolve({ statusCode, body });
          });
          res.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
          });
        },
      );
      const timer = setTimeout(() => {
        r.destroy(new Error(`Docker API ${req.method} ${req.path.split("?")[0]} gave no answer within ${req.timeoutMs} ms`));
      }, req.timeoutMs);
      r.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      if (payload) r.write(payload);
      r.end();
    });
  }

  async request<T>(req: DockerRequest): Promise<T> {
    const { body } = await this.requestRaw(req);
    const text = body.toString("utf8");
    return (text.trim() === "" ? undefined : JSON.parse(text)) as T;
  }

  /** Throws with the reason when the engine does not answer `/_ping`. */
  async ping(timeoutMs = 5000): Promise<void> {
    const { body } = await this.requestRaw({ method: "GET", path: "/_ping", timeoutMs });
    if (body.toString("utf8").trim() !== "OK") throw new Error(`Docker /_ping answered ${JSON.stringify(body.toString())}`);
  }

  /**
   * The log stream exactly as the engine sends it: multiplexed (8-byte frame headers) unless the
   * container has a TTY. The provider keeps it like that; see providerContainerLogs.
   */
  async rawLogs(id: string, timeoutMs = 10_000): Promise<Buffer> {
    const { body } = await this.requestRaw({
      method: "GET",
      path: `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1`,
      timeoutMs,
    });
    return body;
  }

  /** stdout+stderr of a container as text, for test diagnostics (not what the provider reports). */
  async logs(id: string, timeoutMs = 10_000): Promise<string> {
    const { body } = await this.requestRaw({
      method: "GET",
      path: `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1`,
      timeoutMs,
    });
    return demultiplexLogs(body);
  }
}

/** Docker's log stream: frames of [stream(1), 0, 0, 0, size(4, big endian)] + payload. */
export function demultiplexLogs(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  if (offset !== raw.length) return raw.toString("utf8"); // not multiplexed (TTY): plain text
  return Buffer.concat(parts).toString("utf8");
}

/** A ustar archive holding one regular file, as the provider builds for an `uploads` entry. */
export function tarOneFile(filePath: string, content: Buffer, mode: number): Buffer {
  let name = filePath.replace(/^\/+/, "");
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`upload path too long for a tar header: ${filePath}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  const header = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, length: number): void => {
    header.write(text, offset, Math.min(length, Buffer.byteLength(text)), "utf8");
  };
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, "0") + "\0";
  put(name, 0, 100);
  put(octal(mode & 0o7777, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid root
  put(octal(0, 8), 116, 8); // gid root
  put(octal(content.length, 12), 124, 12);
  put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
  put("        ", 148, 8); // checksum placeholder: spaces while summing
  put("0", 156, 1); // regular file
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024, 0)]);
}
