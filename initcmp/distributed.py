"""The Ray executor: a comparison's runs as Ray tasks, on this machine or a cluster.

`compare --executor ray` hands each group of runs that can train together (the same
grouping as the local executor, `fused.groups`: same settings but init and seed, at
most fused.MAX_RUNS) to one Ray task, which calls `train.run_many` exactly as the local
executor does. So a run's numbers do not depend on the executor: the same per-run seeds,
the same resume rules, the same bits (tests/test_distributed.py).

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

from initcmp import faults, fused
from initcmp.config import Config
from initcmp.errors import ExecutorError, InitcmpError

MISSING = (
    "the ray executor needs Ray, which is not installed: "
    "pip install 'initcmp[ray]' (or `make install`)"
)


def _ray():
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
    its own type, and it is the user's to fix, so not worth a retry."""
    from initcmp import data, train

    try:
        dataset = data.load(cfgs[0].data)
        return train.run_many(
            cfgs, dataset, checkpoint_root=checkpoint_root, log_root=log_root, fuse=fuse
        )
    except InitcmpError as exc:
        return exc


def run(
    cfg: Config, todo: list[Config], *, checkpoint_root: str | Path, log_root: str | Path, reporter
) -> list[dict]:
    """Train `todo` (a comparison's unfinished runs) as Ray tasks; return their results."""
    ray = _ray()
    options = cfg.ray
    started_here = not ray.is_initialized()
    if started_here:
        try:
            local = {} if options.address else {"num_cpus": options.num_cpus}
            ray.init(
                address=options.address,
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=False,
                **local,
            )
        except Exception as exc:  # noqa: BLE001 - Ray raises many types for a bad address
            where = options.address or "a local Ray instance"
            hint = (
                "; a cluster started with `ray start` wants RAY_AUTH_MODE=token and its "
                'token (README, "Running on a cluster")'
                if options.address
                else ""
            )
            raise ExecutorError(
                f"cannot start or join {where}: {str(exc).splitlines()[0]}{hint}"
            ) from None
    try:
        task = ray.remote(_train_task).options(
            num_cpus=options.cpus_per_task,
            num_gpus=options.gpus_per_task,
            max_retries=options.retries,
            retry_exceptions=False,
        )
        work = fused.groups(todo, fused.fusible_key) if cfg.compare.fuse else [[c] for c in todo]
        reporter.note(
            f"ray: {len(todo)} runs in {len(work)} tasks on "
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
