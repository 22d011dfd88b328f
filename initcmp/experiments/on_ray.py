"""The Ray executor: a comparison's runs as Ray tasks, on this machine or a cluster.

`compare --executor ray` hands each stack of runs that train together (cut by the same
rule as on the local executor, `fused.Engine.stacks`) to one Ray task, which calls
`train.run_many` exactly as the local executor does. So a run's numbers do not depend
on the executor: the same per-run seeds, the same resume rules, the same bits
(tests/test_distributed.py).

- No address: a Ray instance is started for the command and shut down after it, so
  nothing is left running. An address joins that cluster (`ray start --head` prints it).
- Checkpoint and log folders are handed to the tasks as absolute paths: on a cluster
  they must be shared storage that every node sees at the same path.
- A task whose worker dies (kill -9, a lost node) is retried `ray.retries` times; since
  each run resumes from its own checkpoint, a retry continues where it stopped and ends
  with the same numbers. Errors of the run itself (a bad config, no data, a held lock)
  are not retried: they would fail again, and reach the driver as their own type.
- A killed driver is restarted with the same command: finished runs are read back,
  interrupted ones resume, as with the local executor. (After a kill -9 of a driver
  that started its own instance, Ray's agent processes may stay: `ray stop` ends them.)

Ray is imported only here and only when asked for.
"""

from __future__ import annotations

from pathlib import Path

from initcmp.engine import faults
from initcmp.config.schema import Config
from initcmp.errors import ConfigError, ExecutorError, InitcmpError

MISSING = (
    "the ray executor needs Ray, which is not installed: "
    "pip install 'initcmp[ray]' (or `make install`)"
)


def require_ray():
    """The ray module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(MISSING) from None
    return ray


def _train_task(
    cfgs: list[Config], checkpoint_root: str, log_root: str, fuse: bool
) -> list[dict] | InitcmpError:
    """One Ray task: load the data on the worker and train the group as `compare` would.
    An error of the run itself is returned, not raised: Ray would wrap a raised one in
    its own type, and it is the user's to fix, so not worth a retry. So is running out
    of memory on the worker."""
    from initcmp.data import sources
    from initcmp.engine import memory
    from initcmp.engine import train

    try:
        dataset = sources.load(cfgs[0].data)
        return train.run_many(
            cfgs, dataset, checkpoint_root=checkpoint_root, log_root=log_root, fuse=fuse
        )
    except InitcmpError as exc:
        return exc
    except Exception as exc:
        error = memory.as_error(exc)
        if error is None:
            raise
        return error


def _start_or_join(ray, options) -> None:
    """`ray.init`: join the cluster at `ray.address` (checked first: `_check_head`), or
    start a local instance."""
    if options.address:
        _check_head(options.address)
    try:
        local = {} if options.address else {"num_cpus": options.num_cpus}
        ray.init(
            address=options.address,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
            **local,
        )
    except KeyboardInterrupt:  # Ctrl-C while Ray starts: stop what it has started (left
        ray.shutdown()  # to exit, a half-started driver once ended in SIGSEGV, not 130)
        raise
    except Exception as exc:  # noqa: BLE001 - Ray raises many types for a bad address
        where = options.address or "a local Ray instance"
        hint = (
            "; a cluster started with `ray start` wants RAY_AUTH_MODE=token and its "
            "token (docs/guides/cluster.md)"
            if options.address
            else ""
        )
        raise ExecutorError(
            f"cannot start or join {where}: {str(exc).splitlines()[0]}{hint}"
        ) from None


def _check_head(address: str) -> None:
    """Fail in seconds, in one line naming `address`, unless a Ray head answers there.

    Ray itself would retry a wrong address for about 12 minutes: 20 attempts
    (RAY_NUM_REDIS_GET_RETRIES), each blocking in C++ for up to 35 s
    (RAY_gcs_rpc_server_connect_timeout_s 5 + RAY_py_gcs_connect_timeout_s 30, read once
    when Ray is imported), with Ctrl-C deferred until an attempt ends. So the address is
    tried here first, within PROBE_SECONDS per stage, interruptibly: resolve the host,
    open a TCP connection, and ask it for its cluster id as Ray's own client does first.
    Only a clear no refuses; anything else is left to `ray.init` and its own errors."""
    if address in ("auto", "local"):
        return  # Ray finds those itself, from RAY_ADDRESS or the last `ray start`
    client = "://" in address  # ray://host:port: Ray Client, not the head's GCS port
    target = address.split("://", 1)[1] if client else _as_ray_connects(address)
    host, _, port = target.rpartition(":")
    host = host.strip("[]")  # an IPv6 address is written [::1]:6379
    if not host or not port.isdigit():
        raise ConfigError(f"ray address {address!r} is not HOST:PORT, e.g. 10.0.0.1:6379")
    where = address if target == address else f"{address} ({target})"
    problem = _tcp_problem(host, int(port)) or (None if client else _gcs_problem(target))
    if problem:
        raise ExecutorError(f"cannot join the Ray cluster at {where}: {problem}")


# How long each stage of `_check_head` waits: a head answers in milliseconds.
PROBE_SECONDS = 4.0
# What a wrong address should have been.
HEAD_ADDRESS = "; the address is the one `ray start --head` prints (port 6379 by default)"


def _as_ray_connects(address: str) -> str:
    """HOST:PORT as `ray.init` will connect to it (it replaces localhost by this node's
    address); the address as given if Ray's helper is not there."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address(address) or address
    except (ImportError, ValueError):  # ValueError: not HOST:PORT, which the caller says
        return address


def _tcp_problem(host: str, port: int) -> str | None:
    """Why no TCP connection to host:port opens, in words; None if one does."""
    import socket

    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except socket.gaierror:
        return f"no host named {host!r} is known{HEAD_ADDRESS}"
    except ConnectionRefusedError:
        return f"nothing listens on port {port} of {host} (connection refused){HEAD_ADDRESS}"
    except TimeoutError:
        return f"{host} does not answer on port {port} within {PROBE_SECONDS:g} s{HEAD_ADDRESS}"
    except OSError as exc:
        return f"{exc.strerror or exc}{HEAD_ADDRESS}"
    return None


def _gcs_problem(target: str) -> str | None:
    """Whether a Ray head's GCS answers at `target` (HOST:PORT): the call Ray's client
    makes first (GetClusterId), through Ray's own channel (TLS and token as configured,
    so it is refused exactly when `ray.init`'s would be, which retries for 20 s). A
    problem is nothing answering as a GCS, or a head refusing the token; any other
    answer goes on to `ray.init`."""
    try:
        import grpc
        from ray._private.grpc_utils import init_grpc_channel
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc
    except ImportError:
        return None
    channel = init_grpc_channel(target)
    try:
        gcs = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        gcs.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=PROBE_SECONDS)
    except grpc.RpcError as exc:
        code = exc.code()
        if code in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.UNIMPLEMENTED,
        ):
            return f"it accepts connections but no Ray head answers ({code.name}){HEAD_ADDRESS}"
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return (
                "the head refuses this process's token: run with RAY_AUTH_MODE=token and "
                "the cluster's token (docs/guides/cluster.md)"
            )
    finally:
        channel.close()
    return None


def run(
    cfg: Config,
    work: list[list[Config]],
    *,
    checkpoint_root: str | Path,
    log_root: str | Path,
    reporter,
) -> list[dict]:
    """Train `work` (a comparison's unfinished runs, in stacks) as Ray tasks, one a
    stack; return their results."""
    ray = require_ray()
    options = cfg.ray
    started_here = not ray.is_initialized()
    if started_here:
        _start_or_join(ray, options)
    try:
        task = ray.remote(_train_task).options(
            num_cpus=options.cpus_per_task,
            num_gpus=options.gpus_per_task,
            max_retries=options.retries,
            retry_exceptions=False,
        )
        reporter.note(
            f"ray: {sum(map(len, work))} runs in {len(work)} tasks on "
            f"{options.address or 'a local Ray instance'}"
        )
        pending = {
            task.remote(
                group,
                str(Path(checkpoint_root).resolve()),
                str(Path(log_root).resolve()),
                cfg.compare.fuse,
            ): group
            for group in work
        }
        results = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(done[0])
            try:
                out = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - the task died more often than retried
                raise ExecutorError(
                    f"a Ray task for {', '.join(c.run_name for c in group)} "
                    f"failed after {options.retries} retries: "
                    f"{str(exc).splitlines()[0]}; rerun to resume"
                ) from None
            if isinstance(out, InitcmpError):
                raise out
            for result in out:
                reporter.finish(result)
            results += out
            faults.point("task")  # tests: the driver killed between tasks
        return results
    finally:
        if started_here:
            ray.shutdown()
