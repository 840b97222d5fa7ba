/** A valid outputs document (Docker-like: internal 172.28.0.x addresses, published 127.0.0.1 ports). */
import type { StackOutputs } from "@redis-on-docker/connector";

/** A password with spaces, both quotes, `$`, a backslash and non-ASCII: every printer must carry it intact. */
export const AWKWARD_PASSWORD = "p w'\"ü $HOME \\n`x`";

export function outputsFixture(password = AWKWARD_PASSWORD): StackOutputs {
  return {
    schemaVersion: 1,
    redisImage: "redis:5.0.4",
    redisVersion: "5.0.4",
    passwordRequired: password !== "",
    password,
    standalone: { host: "127.0.0.1", port: 7000, internalHost: "172.28.0.10", internalPort: 6379 },
    cluster: {
      seeds: [1, 2, 3].map((i) => ({ host: "127.0.0.1", port: 7000 + i })),
      internalSeeds: [1, 2, 3].map((i) => ({ host: `172.28.0.${10 + i}`, port: 6379 })),
      natMap: Object.fromEntries([1, 2, 3].map((i) => [`172.28.0.${10 + i}:6379`, { host: "127.0.0.1", port: 7000 + i }])),
      replicasPerMaster: 1,
    },
  };
}
