import { Cluster } from "ioredis";
import { AsyncWorkload, summarize } from "./workload";
import { asyncKeyValue } from "./keyValue";
import { keysOnEveryMaster, clusterNodes, waitFor, sleep } from "./clusterProbe";
import { readFileSync } from "fs";
const PW = 'pw-7Hq9Xk "q" sp ü';
const ports = [41201,41202,41203,41204,41205,41206];
async function main() {
  const seed = { host: "127.0.0.1", port: 41201 };
  const nodes = await clusterNodes(seed, PW);
  const masters = nodes.filter(n => n.role === "master" && n.slots.length > 0 && !n.flags.includes("fail"));
  const victim = masters.find(m => m.port !== 41201)!;
  const keyMap = await keysOnEveryMaster(seed, PW, "x:", 4);
  const client = new Cluster(ports.map(p => ({ host: "127.0.0.1", port: p })), {
    redisOptions: { password: PW, connectTimeout: 1000, commandTimeout: 1000, maxRetriesPerRequest: 2 },
    retryDelayOnFailover: Number(process.env.RDF ?? 100), retryDelayOnClusterDown: 100, retryDelayOnTryAgain: 100, retryDelayOnMoved: 0,
    slotsRefreshTimeout: 1000, slotsRefreshInterval: 5000,
  });
  client.on("error", () => {}); client.on("node error", () => {});
  const wl = new AsyncWorkload(asyncKeyValue(client), { keys: [...keyMap].map(([key, shard]) => ({ key, shard })), waitTimeoutMs: 300, pauseMs: 5 });
  wl.start();
  await sleep(1000);
  const pid = Number(readFileSync(`/tmp/helperG-scratch/${victim.port}/redis.pid`, "utf8"));
  process.kill(pid, "SIGKILL"); const tKill = Date.now();
  const resumed = await waitFor("resume", 20000, async () => wl.records.find(r => r.shard === victim.id && r.ok && r.op === "write" && r.start >= tKill));
  await sleep(500); await wl.stop(5000);
  console.log("RDF", process.env.RDF, "resumed", resumed.end - tKill, JSON.stringify(summarize(wl.records)));
  for (const r of wl.records) if (r.end - r.start > 1200) console.log(r.op, r.start - tKill, r.end - r.start, r.error);
  client.disconnect();
}
main().catch(e => { console.error(e); process.exit(1); });
