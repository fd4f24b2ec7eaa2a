"""Running one job of the build in a forked copy of this process, beside the rest of the build.

Once the records are merged and reasoned over, the page (graph.html) only reads that data, and
so do the Turtle files the build goes on to write: two jobs for two cores. A forked child
starts with the parent's memory as it stands, so the hundreds of megabytes of triples are not
pickled on the way in; only the job's small result (or its exception) comes back, through a
pipe.

A job may also need one value that the parent works out meanwhile (`start_receiving`): the page
indexes the asserted triples while the parent reasons, then receives the inferred ones. A job
may run at a lower priority (`nice`), so that it takes the core the others leave idle. Its
BLAS (numpy's matrix products) runs one thread, not one per core: the cores are the build's.

Where fork is missing (Windows) or unsafe (macOS; or a process running other threads, whose
locks would stay held for ever in the child), the job runs in this process instead, when its
result is asked for: the same result, later.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from commkg.errors import CommkgError

T = TypeVar("T")
V = TypeVar("V")


class JobDied(CommkgError):
    """The forked process running a job ended without an answer (killed, out of memory)."""


def can_fork() -> bool:
    return sys.platform == "linux" and threading.active_count() == 1


def start(job: Callable[[], T], *, fork: bool, nice: int = 0) -> Job[T]:
    """Start `job` in a forked child when `fork` is asked for and safe here, else keep it to run
    in this process when its result is asked for. A forked child adds `nice` to its niceness."""
    return Job(lambda receive: job(), fork=fork and can_fork(), nice=nice)


def start_receiving(job: Callable[[Callable[[], V]], T], *, fork: bool, nice: int = 0) -> Job[T]:
    """`start` for a job that needs one more value while it runs: it is called with `receive`,
    which returns what the caller gives `Job.send` (in a forked child, waiting for it)."""
    return Job(job, fork=fork and can_fork(), nice=nice)


def send(jobs: Iterable[Job], value: object) -> None:
    """`Job.send` to each of `jobs`, pickling `value` once for all the forked ones."""
    pickled = None
    for job in jobs:
        if not job.forked:
            job._sent = (value,)
            continue
        if pickled is None:
            pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        job._send_pickled(pickled)


class NothingSent(CommkgError):
    """A job asked for the value it receives, and none was sent (the caller gave up first)."""


class Job(Generic[T]):
    def __init__(self, job: Callable[[Callable[[], object]], T], *, fork: bool, nice: int = 0):
        self._job = job
        self._outcome: tuple[bool, object] | None = None
        self._sent: tuple[object] | None = None  # in this process: what `send` was given
        self._process = None
        self._inbox = None
        if fork:
            context = multiprocessing.get_context("fork")
            self._answers, answer = context.Pipe(duplex=False)
            inbox, self._inbox = context.Pipe(duplex=False)
            # Not a daemon: a daemon process may not start processes of its own, and the job
            # ends on its own; a parent that dies first closes the pipe, which the child survives.
            self._process = context.Process(target=_run, args=(job, answer, inbox, self._inbox, nice),
                                            name="commkg-job")
            self._process.start()
            answer.close()  # the child holds the only sending end now: EOF once it has gone
            inbox.close()

    @property
    def forked(self) -> bool:
        return self._process is not None

    def send(self, value: object) -> None:
        """Give the job the value it receives (once). A forked job gets it when it asks for it:
        until then this waits, unless the value fits in the pipe."""
        send([self], value)

    def _send_pickled(self, data: bytes) -> None:
        try:
            self._inbox.send_bytes(data)
        except OSError:
            pass  # the child has gone: `result` says how
        finally:
            self._inbox.close()

    def result(self) -> T:
        """The job's return value (waiting for it), or its exception raised here. Nothing can be
        sent to the job afterwards: if it still waits for a value, it gets NothingSent."""
        if self._outcome is None:
            if self._process is not None:
                self._inbox.close()
                self._outcome = self._wait()
            else:
                self._outcome = _outcome_of(self._job, self._received)
        succeeded, value = self._outcome
        if succeeded:
            return value  # type: ignore[return-value]
        raise value  # type: ignore[misc]

    def _received(self) -> object:
        if self._sent is None:
            raise NothingSent("a build job waited for a value that was never sent")
        return self._sent[0]

    def _wait(self) -> tuple[bool, object]:
        try:
            return self._answers.recv()
        except EOFError:
            self._process.join()
            raise JobDied(f"a build process ended without finishing its work "
                          f"(exit code {self._process.exitcode}; out of memory?); "
                          "try again with --workers 1") from None
        finally:
            self._answers.close()
            self._process.join()


def _outcome_of(job: Callable[[Callable[[], object]], T], receive: Callable[[], object]) -> tuple[bool, object]:
    try:
        return True, job(receive)
    except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the result
        return False, error


def _one_blas_thread() -> None:
    """Have BLAS run one thread in this forked child. The job shares the cores with the build,
    and BLAS's own threads, started anew in the child, spin for a core that is busy (a
    10,000 × 71 matrix product took 0.25 s instead of 2 ms while a patch's files were being
    written). A hint only: a job runs the same without it."""
    try:
        from threadpoolctl import threadpool_limits  # here: 0.03 s that only a child pays

        threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001 - an unknown BLAS build must not end the job
        pass


def _run(job: Callable[[Callable[[], object]], object], answer, inbox, parents_end, nice: int) -> None:
    """The child: run the job, send (succeeded, value or exception) back."""
    parents_end.close()  # else the inbox never ends: this process would hold its other end open
    if nice:
        os.nice(nice)
    _one_blas_thread()

    def receive() -> object:
        try:
            return pickle.loads(inbox.recv_bytes())
        except EOFError:
            raise NothingSent("a build job waited for a value that was never sent") from None

    outcome = _outcome_of(job, receive)
    inbox.close()
    try:
        answer.send(outcome)
    except Exception as error:  # noqa: BLE001 - the value or exception could not be pickled
        answer.send((False, RuntimeError(f"{outcome[1]!r} (and it could not be sent back: {error})")))
    finally:
        answer.close()
