/**
 * The ready-made test hooks of @redis-on-docker/local, called the way the runners call them:
 * mocha's root hooks (beforeAll/afterAll with a hook context) and the Jest/Vitest globalSetup
 * (default export returning the teardown; Jest's separate globalTeardown). Each starts one real
 * stack, hands REDIS_* to the tests, and afterwards leaves no process, no dir and the env as it was.
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { createMochaHooks, STACK_ENV_NAMES } from "@redis-on-docker/local";
import { parseInfo, probeRedis } from "../../local/src/redisProbe";
import { processesIn } from "../reliability/support/boundedRun";

const LOCAL = path.resolve(__dirname, "../../local");

type EnvSnapshot = Record<string, string | undefined>;
const snapshot = (): EnvSnapshot => Object.fromEntries(STACK_ENV_NAMES.map((n) => [n, process.env[n]]));

/** What the tests would see: both servers answer with the handed-over password; the cluster is ok. */
async function expectUsableEnv(): Promise<string> {
  const outputsFile = process.env.REDIS_OUTPUTS_FILE as string;
  expect(fs.existsSync(outputsFile), "REDIS_OUTPUTS_FILE exists").to.equal(true);
  const password = process.env.REDIS_PASSWORD as string;
  expect(password).to.have.length.greaterThan(10);
  expect(await probeRedis(Number(process.env.REDIS_PORT), ["PING"], { host: process.env.REDIS_HOST, password, timeoutMs: 2000 })).to.equal("PONG");
  const seeds = (process.env.REDIS_CLUSTER_NODES as string).split(",");
  expect(seeds).to.have.length(6);
  const info = parseInfo(String(await probeRedis(Number(seeds[0].split(":")[1]), ["CLUSTER", "INFO"], { password, timeoutMs: 2000 })));
  expect(info.get("cluster_state")).to.equal("ok");
  return path.dirname(outputsFile);
}

describe("local package: test hooks", function () {
  this.timeout(90_000);

  it("mocha root hooks: beforeAll starts the stack and sets REDIS_*; afterAll stops it and restores the env", async function () {
    const before = snapshot();
    process.env.REDIS_PASSWORD = "the user's own value";
    const hooks = createMochaHooks();
    const timeouts: number[] = [];
    const context = { timeout: (ms: number) => timeouts.push(ms) };
    let dir: string;
    try {
      await hooks.beforeAll.call(context);
      dir = await expectUsableEnv();
    } finally {
      await hooks.afterAll.call(context);
    }
    expect(timeouts.every((ms) => ms >= 15_000), "the hooks lift mocha's 2 s default").to.equal(true);
    expect(process.env.REDIS_PASSWORD).to.equal("the user's own value");
    process.env.REDIS_PASSWORD = before.REDIS_PASSWORD;
    if (before.REDIS_PASSWORD === undefined) delete process.env.REDIS_PASSWORD;
    expect(snapshot()).to.deep.equal(before);
    expect(fs.existsSync(dir), "stack dir removed").to.equal(false);
    expect(processesIn(dir)).to.deep.equal([]);
  });

  it("globalSetup (Vitest form: the default export returns the teardown)", async function () {
    const before = snapshot();
    const setup = require(path.join(LOCAL, "global-setup.js")) as () => Promise<() => Promise<void>>;
    const teardown = await setup();
    let dir: string;
    try {
      dir = await expectUsableEnv();
    } finally {
      await teardown();
    }
    expect(snapshot()).to.deep.equal(before);
    expect(fs.existsSync(dir), "stack dir removed").to.equal(false);
  });

  it("globalSetup + globalTeardown (Jest form: two modules)", async function () {
    const before = snapshot();
    const setup = require(path.join(LOCAL, "global-setup.js")) as () => Promise<unknown>;
    const teardown = require(path.join(LOCAL, "global-teardown.js")) as () => Promise<void>;
    let dir: string;
    try {
      await setup();
      dir = await expectUsableEnv();
    } finally {
      await teardown();
    }
    expect(snapshot()).to.deep.equal(before);
    expect(fs.existsSync(dir), "stack dir removed").to.equal(false);
  });
});
