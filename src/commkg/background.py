"""Running one job of the build in a forked copy of this process, beside the rest of the build.

Once the records are merged and reasoned over, the page (graph.html) only reads that data, and
so do the Turtle files the build goes on to write: two jobs for two cores. A forked child
starts with the parent's memory as it stands, so the hundreds of megabytes of triples are not
pickled on the way in; only the job's small result (or its exception) comes back, through a
pipe.

Where fork is missing (Windows) or unsafe (macOS; or a process running other threads, whose
locks would stay held for ever in the child), the job runs in this process instead, when its
result is asked for: the same result, later.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from commkg.errors import CommkgError

T = TypeVar("T")


class JobDied(CommkgError):
    """The forked process running a job ended without an answer (killed, out of memory)."""


def can_fork() -> bool:
    return sys.platform == "linux" and threading.active_count() == 1


def start(job: Callable[[], T], *, fork: bool) -> Job[T]:
    """Start `job` in a forked child when `fork` is asked for and safe here, else keep it to run
    in this process when its result is asked for."""
    return Job(job, fork=fork and can_fork())


class Job(Generic[T]):
    def __init__(self, job: Callable[[], T], *, fork: bool):
        self._job = job
        self._outcome: tuple[bool, object] | None = None
        self._process = None
        if fork:
            context = multiprocessing.get_context("fork")
            self._answers, answer = context.Pipe(duplex=False)
            # Not a daemon: a daemon process may not start processes of its own, and the job
            # ends on its own; a parent that dies first closes the pipe, which the child survives.
            self._process = context.Process(target=_run, args=(job, answer), name="commkg-job")
            self._process.start()
            answer.close()  # the child holds the only sending end now: EOF once it has gone

    @property
    def forked(self) -> bool:
        return self._process is not None

    def result(self) -> T:
        """The job's return value (waiting for it), or its exception raised here."""
        if self._outcome is None:
            self._outcome = self._wait() if self._process is not None else _outcome_of(self._job)
        succeeded, value = self._outcome
        if succeeded:
            return value  # type: ignore[return-value]
        raise value  # type: ignore[misc]

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


def _outcome_of(job: Callable[[], T]) -> tuple[bool, object]:
    try:
        return True, job()
    except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the result
        return False, error


def _run(job: Callable[[], object], answer) -> None:
    """The child: run the job, send (succeeded, value or exception) back."""
    outcome = _outcome_of(job)
    try:
        answer.send(outcome)
    except Exception as error:  # noqa: BLE001 - the value or exception could not be pickled
        answer.send((False, RuntimeError(f"{outcome[1]!r} (and it could not be sent back: {error})")))
    finally:
        answer.close()
