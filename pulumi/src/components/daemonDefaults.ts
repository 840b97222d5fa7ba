/**
 * Container inputs the Docker daemon fills in by itself, which the provider (terraform-provider-docker
 * v3.9.0) reads back into its state although they are ForceNew and not Computed: the daemon's
 * `log-opts` land in `logOpts`, its `default-ulimits` in `ulimits` (kreuzwerker#873). Declared
 * nowhere, they would differ from the state on every `pulumi up` and replace every container
 * (losing data unless persisted); ignored, a daemon's defaults never cause a replacement.
 */
export const DAEMON_FILLED_CONTAINER_INPUTS: string[] = ["logOpts", "ulimits"];
