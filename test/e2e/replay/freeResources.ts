/**
 * Values that let an e2e run coexist with other runs and other helpers on a shared machine:
 * a unique name prefix, an unused /24 subnet and a run of free loopback ports.
 */
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import * as os from "node:os";
import type { DockerEngine } from "./dockerEngine";

export function uniqueNamePrefix(): string {
  return `rode2e-${process.pid}-${randomBytes(2).toString("hex")}`;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** First port of `count` consecutive free ports on 127.0.0.1 (random start, bounded tries). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - count));
    let allFree = true;
    for (let p = base; p < base + count && allFree; p++) allFree = await portIsFree(p);
    if (allFree) return base;
  }
  throw new Error(`no run of ${count} free ports found on 127.0.0.1`);
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function overlaps(a: { base: number; prefix: number }, b: { base: number; prefix: number }): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

/** A 10.213.X.0/24 that overlaps no Docker network and no address of this host. */
export async function freeSubnet(engine: DockerEngine): Promise<string> {
  const networks = await engine.request<Array<{ IPAM?: { Config?: Array<{ Subnet?: string }> } }>>({
    method: "GET",
    path: "/networks",
    timeoutMs: 15_000,
  });
  const taken: Array<{ base: number; prefix: number }> = [];
  for (const n of networks) {
    for (const c of n.IPAM?.Config ?? []) {
      const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(c.Subnet ?? "");
      if (m) taken.push({ base: ipToInt(m[1]), prefix: Number(m[2]) });
    }
  }
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === "IPv4" && a.cidr) {
        const [ip, prefix] = a.cidr.split("/");
        taken.push({ base: ipToInt(ip), prefix: Number(prefix) });
      }
    }
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const third = 1 + Math.floor(Math.random() * 254);
    const candidate = { base: ipToInt(`10.213.${third}.0`), prefix: 24 };
    if (!taken.some((t) => overlaps(t, candidate))) return `10.213.${third}.0/24`;
  }
  throw new Error("no free /24 in 10.213.0.0/16 for the e2e network");
}

export function randomPassword(): string {
  return randomBytes(18).toString("hex");
}
